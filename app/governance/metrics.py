"""HTTP metrics by route template (never raw paths: bounded cardinality) and `/metrics`."""

from __future__ import annotations

import os
import time

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route, method = route_template(scope), scope["method"]
            principal = scope.get("state", {}).get("principal")
            client = principal.client_id if principal is not None else "anonymous"
            HTTP_REQUESTS.labels(route, method, str(status), client).inc()
            HTTP_LATENCY.labels(route, method).observe(time.perf_counter() - started)


router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    operation_id="health-metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
async def metrics(_: Request) -> Response:
    """Metrics in the Prometheus text format (all workers, in multiprocess mode)."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
