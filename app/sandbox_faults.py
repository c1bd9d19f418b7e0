"""Fault injection of the sandboxes a gateway runs in process, at `/_sandbox/{backend}/faults`.

A sandbox started with `ledgergate sandbox ...` serves its own `/_sandbox/faults`; one
running inside the gateway has no address of its own, so the gateway reaches its
injector here, per backend, at run time (see `sandboxes.faults` for the configuration).
Mounted outside production only, and only a backend that runs as a sandbox in this
process answers: a real backend can never be broken from here. Not part of the API
contract.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.backends import Backends
from core.errors import NotFound

router = APIRouter(include_in_schema=False)


@router.api_route("/_sandbox/{backend}/faults", methods=["GET", "POST", "DELETE"])
async def sandbox_faults(backend: str, request: Request) -> Response:
    """Read, set or clear the faults of the backend's in-process sandbox."""
    from sandboxes.faults import control  # only where a sandbox runs, so already loaded

    backends: Backends = request.app.state.backends
    injector = backends.faults.get(backend)
    if injector is None:
        raise NotFound(f"{backend} does not run as a sandbox in this process")
    return await control(injector, request)
