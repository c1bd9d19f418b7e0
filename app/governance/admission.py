"""Admission control: a worker takes at most `max_in_flight` requests at once.

Past that a request is refused at once with a 503 `overloaded` problem and
`Retry-After`, before authentication or any database work, so an overloaded
gateway answers quickly instead of queueing requests until they time out, and the
requests it admitted keep a bounded latency. The probes and `/metrics` are never
refused: an orchestrator must still see a busy replica as alive. A request waiting
too long for a database connection (`database_pool_timeout_seconds`) ends with the
same problem (see `problems.py`).
"""

from __future__ import annotations

from prometheus_client import Counter
from starlette.types import ASGIApp, Receive, Scope, Send

from app.governance.asgi import send_problem
from core.errors import LedgergateError
from core.problems import error_document

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
RETRY_AFTER_SECONDS = 1

SHED = Counter(
    "ledgergate_requests_shed_total",
    "Requests refused with 503 overloaded, by reason: in_flight (admission) or "
    "database_pool (no connection came free in time).",
    ["reason"],
)


class Overloaded(LedgergateError):
    status_code = 503
    slug = "overloaded"
    title = "The gateway is overloaded"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)


class AdmissionMiddleware:
    """Counts the requests in flight in this process; refuses those over `max_in_flight`."""

    def __init__(self, app: ASGIApp, *, max_in_flight: int) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            SHED.labels("in_flight").inc()
            error = Overloaded(
                f"this worker is handling {self.in_flight} requests, its limit; retry shortly"
            )
            correlation_id = scope.get("state", {}).get("correlation_id")
            document = error_document(error, instance=scope["path"], correlation_id=correlation_id)
            await send_problem(send, error.status_code, document, error.headers)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
