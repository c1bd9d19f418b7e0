"""Liveness and readiness probes.

`/healthz` says the process serves requests. `/readyz` checks the database (503 when
it cannot be reached: do not send traffic) and each backend: one GET probe (`checks`)
and the state of its circuit breaker (`circuits`). A backend that is down, or whose
circuit is not closed, makes the gateway `degraded`, still 200: postings are queued,
not lost, so the replica should keep taking requests. The probe goes around the
breaker: readiness observes the circuit, it does not move it.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text

from app.backends import Backends
from process_apis.deps import ContextDep
from system_apis.circuit import CircuitState
from system_apis.http import probe

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "degraded", "unready"]
    checks: dict[str, str]
    circuits: dict[str, CircuitState] = Field(
        description="Circuit breaker state per backend: closed, half_open or open."
    )


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
async def readyz(request: Request, context: ContextDep) -> JSONResponse:
    """Database and backend reachability and circuits; 503 only when the database is down."""
    checks: dict[str, str] = {}
    try:
        async with context.sessionmaker() as session:
            await session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:  # any driver failure means "not ready", never a 500
        checks["database"] = type(error).__name__
    backends: Backends = request.app.state.backends
    circuits: dict[str, CircuitState] = {}
    for name, path in backends.probes.items():
        checks[name] = await probe(backends.clients[name], path)
        circuits[name] = backends.clients[name].circuit.state
    if checks["database"] != "ok":
        status = "unready"
    elif all(value == "ok" for value in checks.values()) and all(
        state is CircuitState.CLOSED for state in circuits.values()
    ):
        status = "ready"
    else:
        status = "degraded"
    body = Readiness(status=status, checks=checks, circuits=circuits)
    return JSONResponse(
        body.model_dump(mode="json"), status_code=503 if status == "unready" else 200
    )
