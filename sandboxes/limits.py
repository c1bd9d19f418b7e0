"""The ERP vendors' request limits, enforced by their sandboxes as the real services do.

A sandbox serves at most `requests_per_window` requests in any sliding window of
`window_seconds`, and at most `max_concurrent_requests` at once; past either it
answers `429` with `Retry-After` and the vendor's error body (Business Central's
`Application_TooManyRequests`, NetSuite's `SSS_REQUEST_LIMIT_EXCEEDED`), without
handling the request. The defaults are the vendor's published limits
(`core.settings.VENDOR_LIMITS`); `LEDGERGATE_SANDBOX_LIMITS_<BACKEND>` (JSON, the
fields of `LimitConfig`) overrides them at start-up, and `POST /_sandbox/limits` at
run time (counters reset); `DELETE` goes back to the vendor's defaults.

A batch request (a path ending in `/$batch`) counts once under the concurrency, and in
the window as one request or as many as it carries operations (`batch_counted_as`, the
vendor's default as `core.settings.VENDOR_LIMITS` reads its documentation).

It counts what it served and refused (in operations; `batches` counts batch requests),
and the most requests it ever had in one window and at once, so a test or a benchmark
can prove the limit was kept: `GET /_sandbox/limits`, or `app.state.limits` in process.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.settings import VENDOR_LIMITS, BatchCounting

LIMITS_PATH = "/_sandbox/limits"
BATCH_SUFFIX = "/$batch"
LIMITS_ENV = "LEDGERGATE_SANDBOX_LIMITS"
CONCURRENCY_RETRY_AFTER_SECONDS = 1

Vendor = Literal["business_central", "netsuite"]


class LimitConfig(BaseModel):
    """What the sandbox allows; `requests_per_window` None counts no window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_window: int | None = Field(default=None, ge=1)
    window_seconds: float = Field(default=300.0, gt=0)
    max_concurrent_requests: int = Field(default=5, ge=1)
    batch_counted_as: BatchCounting = "request"

    @classmethod
    def of(cls, vendor: Vendor) -> LimitConfig:
        limits = VENDOR_LIMITS[vendor]
        return cls(
            requests_per_window=limits.requests_per_window,
            window_seconds=limits.window_seconds,
            max_concurrent_requests=limits.max_concurrent_requests,
            batch_counted_as=limits.batch_counted_as,
        )


class VendorLimiter:
    """The sliding window of served requests, those in flight, and the counters."""

    def __init__(self, vendor: Vendor, config: LimitConfig) -> None:
        self.vendor = vendor
        self.configure(config)

    def configure(self, config: LimitConfig) -> None:
        self.config = config
        self._served_at: deque[float] = deque()
        self.in_flight = 0
        self.served = 0
        self.batches = 0
        self.refused = {"window": 0, "concurrency": 0}
        self.peak_in_window = 0
        self.peak_concurrent = 0

    def admit(self, now: float, operations: int = 1, *, batch: bool = False) -> int | None:
        """Take the request of `operations` (None), or the seconds it must wait
        (`Retry-After`)."""
        config = self.config
        cost = operations if batch and config.batch_counted_as == "operations" else 1
        while self._served_at and self._served_at[0] <= now - config.window_seconds:
            self._served_at.popleft()
        if self.in_flight >= config.max_concurrent_requests:
            self.refused["concurrency"] += 1
            return CONCURRENCY_RETRY_AFTER_SECONDS
        limit = config.requests_per_window
        if limit is not None and len(self._served_at) + cost > limit:
            self.refused["window"] += 1
            oldest_needed = max(0, len(self._served_at) + cost - limit - 1)
            if oldest_needed >= len(self._served_at):
                return math.ceil(config.window_seconds)
            frees_at = self._served_at[oldest_needed] + config.window_seconds
            return max(1, math.ceil(frees_at - now))
        self._served_at.extend([now] * cost)
        self.in_flight += 1
        self.served += operations
        self.batches += batch
        self.peak_in_window = max(self.peak_in_window, len(self._served_at))
        self.peak_concurrent = max(self.peak_concurrent, self.in_flight)
        return None

    def done(self) -> None:
        self.in_flight -= 1

    def report(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "config": self.config.model_dump(mode="json"),
            "served": self.served,
            "batches": self.batches,
            "refused": dict(self.refused),
            "in_flight": self.in_flight,
            "peak_in_window": self.peak_in_window,
            "peak_concurrent": self.peak_concurrent,
        }


def _business_central_refusal(retry_after: int) -> dict[str, Any]:
    return {
        "error": {
            "code": "Application_TooManyRequests",
            "message": "The request exceeded the maximum number of requests or concurrent "
            f"requests allowed. Retry after {retry_after} seconds.",
        }
    }


def _netsuite_refusal(retry_after: int) -> dict[str, Any]:
    return {
        "type": "https://www.rfc-editor.org/rfc/rfc6585.html#section-4",
        "title": "Too Many Requests",
        "status": 429,
        "o:errorDetails": [
            {
                "detail": "The request could not be processed because the concurrency or "
                f"frequency limit of the account was exceeded. Retry after {retry_after}s.",
                "o:errorCode": "SSS_REQUEST_LIMIT_EXCEEDED",
            }
        ],
    }


REFUSALS: dict[Vendor, Callable[[int], dict[str, Any]]] = {
    "business_central": _business_central_refusal,
    "netsuite": _netsuite_refusal,
}


async def control(limiter: VendorLimiter, request: Request) -> Response:
    """`GET` the counters, `POST` a configuration (counters reset), `DELETE`: the defaults."""
    if request.method == "POST":
        try:
            limiter.configure(LimitConfig.model_validate_json(await request.body()))
        except ValidationError as error:
            errors = json.loads(error.json(include_url=False, include_input=False))
            return JSONResponse({"errors": errors}, status_code=422)
    elif request.method == "DELETE":
        limiter.configure(LimitConfig.of(limiter.vendor))
    elif request.method != "GET":
        return JSONResponse(
            {"error": "use GET, POST or DELETE"},
            status_code=405,
            headers={"Allow": "GET, POST, DELETE"},
        )
    return JSONResponse(limiter.report())


class LimitsMiddleware:
    """Pure ASGI middleware: serves the control endpoint and enforces the limits."""

    def __init__(self, app: ASGIApp, limiter: VendorLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox/"):
            if scope.get("path") == LIMITS_PATH:
                response = await control(self.limiter, Request(scope, receive))
                await response(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        operations = 1
        batch = scope["method"] == "POST" and scope["path"].endswith(BATCH_SUFFIX)
        if batch:
            raw, receive = await _buffered(receive)
            operations = operation_count(raw)
        retry_after = self.limiter.admit(time.monotonic(), operations, batch=batch)
        if retry_after is not None:
            body = REFUSALS[self.limiter.vendor](retry_after)
            refusal = JSONResponse(body, status_code=429, headers={"Retry-After": str(retry_after)})
            await refusal(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.limiter.done()


def operation_count(body: bytes) -> int:
    """How many operations a batch body carries (one for a body that is not a batch)."""
    try:
        requests = json.loads(body).get("requests")
    except (ValueError, AttributeError):
        return 1
    return len(requests) if isinstance(requests, list) and requests else 1


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The request's whole body, and a `receive` that hands it on as if unread."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    body, delivered = b"".join(chunks), False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay


def config_from_env(
    vendor: Vendor, backend: str, environ: Mapping[str, str] | None = None
) -> LimitConfig:
    """The vendor's limits, with what `LEDGERGATE_SANDBOX_LIMITS_<BACKEND>` overrides."""
    environ = os.environ if environ is None else environ
    defaults = LimitConfig.of(vendor).model_dump()
    raw = environ.get(f"{LIMITS_ENV}_{backend.upper()}")
    return LimitConfig.model_validate({**defaults, **(json.loads(raw) if raw else {})})


def install_limits(app: Starlette, backend: str, vendor: Vendor) -> VendorLimiter:
    """Mount the vendor's limits on a sandbox app (inside its fault injection, if any)."""
    limiter = VendorLimiter(vendor, config_from_env(vendor, backend))
    app.add_middleware(LimitsMiddleware, limiter=limiter)
    app.state.limits = limiter
    return limiter
