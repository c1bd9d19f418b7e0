"""Outermost middleware: correlation id, the response headers every answer carries, request
log line, request metrics, and the last-resort 500 problem.

`X-Correlation-ID` is accepted when it is a sane token, minted otherwise, returned
on every response (errors included) and visible to every log line and backend call. The
security, stashed and deprecation headers (`headers.py`) are added by the same `send`
wrapper, the last-resort 500 included.
"""

from __future__ import annotations

import logging
import os
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.governance.asgi import send_problem
from app.governance.headers import ResponseHeaders
from app.governance.metrics import RequestMetrics
from core.context import correlation_id
from core.problems import internal_error_document

logger = logging.getLogger("ledgergate.http")

HEADER = "x-correlation-id"
HEADER_BYTES = HEADER.encode()
_VALID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


def accept_or_mint(value: str | None) -> str:
    if value is not None and _VALID.match(value):
        return value
    return mint()


def mint() -> str:
    """A random (version 4) UUID as text, as `str(uuid.uuid4())` makes it, without building
    the `UUID` object and its integer on every request."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class CorrelationMiddleware:
    def __init__(self, app: ASGIApp, *, headers: ResponseHeaders) -> None:
        self.app = app
        self.headers = headers
        self.metrics = RequestMetrics()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = b""
        for name, value in scope["headers"]:  # the last one, as a dict of them would keep
            if name == HEADER_BYTES:
                sent = value
        cid = accept_or_mint(sent.decode("latin-1") or None)
        token = correlation_id.set(cid)
        scope.setdefault("state", {})["correlation_id"] = cid
        started = time.perf_counter()
        status = 500
        response_started = False
        added = self.headers.added

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                own = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER_BYTES]
                own.append((HEADER_BYTES, cid.encode()))
                message["headers"] = added(scope, own)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("http.unhandled_exception", extra={"path": scope["path"]})
            if response_started:
                raise
            await send_problem(send_with_id, 500, internal_error_document(scope["path"], cid))
        finally:
            seconds = time.perf_counter() - started
            # Counted as answered: a 500 when the app failed before its answer started.
            self.metrics.record(scope, status, seconds)
            route = scope.get("route")
            logger.info(
                "http.request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": getattr(route, "path", None),
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                },
            )
            correlation_id.reset(token)
