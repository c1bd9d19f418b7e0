"""Liveness and readiness probes.

`/healthz` says the process serves requests. `/readyz` reports the last background
check (`app/readiness.py`): the database (503 when it cannot be reached: do not send
traffic), each backend's GET probe (`checks`) and circuit breaker (`circuits`), and
Redis when the rate limits are kept there. A backend that is down, a circuit not
closed or Redis unreachable makes the gateway `degraded`, still 200: postings are
queued, not lost, so the replica should keep taking requests.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.readiness import Readiness

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"]


@router.get("/healthz", response_model=Health, operation_id="health-live", summary="Liveness")
async def healthz() -> Health:
    """The process is up and serving requests."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    operation_id="health-ready",
    summary="Readiness",
    responses={503: {"model": Readiness, "description": "The database cannot be reached."}},
)
async def readyz(request: Request) -> JSONResponse:
    """The last background check of database, backends and Redis; 503: database down."""
    readiness: Readiness = request.app.state.readiness.current
    return JSONResponse(
        readiness.model_dump(mode="json"),
        status_code=503 if readiness.status == "unready" else 200,
    )
