"""HTTP metrics by route template (never raw paths: bounded cardinality) and `/metrics`.

The metrics name every API client and its traffic, so where `metrics_need_scope` holds
(production by default) `/metrics` answers only a bearer token holding `metrics:read`.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import Scope

from core.auth import Authenticator, Forbidden
from core.problems import problem_responses

METRICS_SCOPE = "metrics:read"

HTTP_REQUESTS = Counter(
    "ledgergate_http_requests_total",
    "HTTP requests by route template, method, status and API client.",
    ["route", "method", "status", "client"],
)
HTTP_LATENCY = Histogram(
    "ledgergate_http_request_duration_seconds",
    "HTTP request latency by route template and method.",
    ["route", "method"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
AUTH_FAILURES = Counter(
    "ledgergate_auth_failures_total", "Refused authentications by reason.", ["reason"]
)
RATE_LIMITED = Counter(
    "ledgergate_rate_limited_total", "Requests refused by a rate limit, by policy.", ["policy"]
)

UNMATCHED = "unmatched"


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or UNMATCHED


class RequestMetrics:
    """Counts and times each HTTP request, by route template (`CorrelationMiddleware` calls
    it once a request is answered: one middleware less on every request's way)."""

    def __init__(self) -> None:
        # Each label set's child, looked up once (`labels` checks and locks on every call).
        self.counted: dict[tuple[str, str, int, str], Any] = {}
        self.timed: dict[tuple[str, str], Any] = {}

    def record(self, scope: Scope, status: int, seconds: float) -> None:
        route, method = route_template(scope), scope["method"]
        principal = scope.get("state", {}).get("principal")
        client = principal.client_id if principal is not None else "anonymous"
        counter = self.counted.get(key := (route, method, status, client))
        if counter is None:
            counter = self.counted[key] = HTTP_REQUESTS.labels(route, method, str(status), client)
        counter.inc()
        histogram = self.timed.get(timed := (route, method))
        if histogram is None:
            histogram = self.timed[timed] = HTTP_LATENCY.labels(route, method)
        histogram.observe(seconds)


async def metrics_access(request: Request) -> None:
    """Anyone in development; a caller holding `metrics:read` where the scope is required."""
    if not request.app.state.metrics_need_scope:
        return
    authenticator: Authenticator = request.app.state.authenticator
    principal = await authenticator.authenticate(request)
    request.state.principal = principal
    request.state.client_id = principal.client_id
    if not principal.allows(METRICS_SCOPE):
        raise Forbidden(
            f"this operation needs the scope {METRICS_SCOPE}", missing_scopes=[METRICS_SCOPE]
        )


router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    operation_id="health-metrics",
    summary="Prometheus metrics",
    response_class=Response,
    dependencies=[Depends(metrics_access)],
    responses={**problem_responses(401, 403), 200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    # Public in development, `metrics:read` in production (`metrics_scope_required`).
    openapi_extra={"security": [{"OAuth2": [METRICS_SCOPE]}, {}]},
)
async def metrics(_: Request) -> Response:
    """Metrics in the Prometheus text format (all workers, in multiprocess mode)."""
    return Response(generate_latest(served_registry()), media_type=CONTENT_TYPE_LATEST)


def served_registry() -> CollectorRegistry:
    """The default registry, or every process's metrics in multiprocess mode."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry
