"""The edge: one pure-ASGI middleware that runs the edge's per-request concerns in one pass.

Each concern keeps its own module; this is only their plumbing, in the order they were
layered in as separate middlewares (outermost first):

- every answer, whoever sends it, leaves with its `X-Correlation-ID` (`correlation.py`),
  the security headers and those the request stashed (`headers.py`), and the
  deprecation headers of a replaced operation (`versioning.py`);
- the correlation id is set for the request, which is counted and timed
  (`metrics.py`) and logged once answered; an exception the app lets out is logged
  and, if no answer started, answered with the last-resort 500 problem;
- then, each of which may answer the request itself: content negotiation
  (`accept.py`), the body received in full within its bounds (`uploads.py`), the
  input hygiene checks of the URL and body (`hygiene.py`), and admission
  (`admission.py`, when a limit is set), around the rest of the app.

As eight middlewares, each request went through a coroutine per layer and every message
it sent through four wrappers; here one coroutine and one wrapper.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.governance.accept import refuse_unacceptable
from app.governance.admission import Admission
from app.governance.asgi import send_problem
from app.governance.correlation import correlation_id_of, with_correlation_id
from app.governance.headers import ResponseHeaders, with_response_headers
from app.governance.hygiene import checked_receive
from app.governance.metrics import RequestMetrics
from app.governance.uploads import Uploads
from app.governance.versioning import VersionRegistry, deprecation_headers
from core.context import correlation_id
from core.problems import internal_error_document

logger = logging.getLogger("ledgergate.http")


class EdgeMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        hsts: bool,
        versions: VersionRegistry,
        uploads: Uploads,
        admission: Admission | None,
    ) -> None:
        self.app = app
        self.headers = ResponseHeaders(hsts=hsts)
        self.versions = versions
        self.uploads = uploads
        self.admission = admission
        self.metrics = RequestMetrics()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cid = correlation_id_of(scope)
        cid_bytes = cid.encode()
        token = correlation_id.set(cid)
        scope.setdefault("state", {})["correlation_id"] = cid
        static = self.headers.static_for(scope["path"])
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_from_edge(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = with_correlation_id(message.get("headers", []), cid_bytes)
                headers = with_response_headers(scope, static, headers)
                # Routing has filled `scope["route"]` by now, whoever answers.
                deprecation = deprecation_headers(self.versions, scope)
                message["headers"] = [*headers, *deprecation] if deprecation else headers
            await send(message)

        try:
            await self._checked(scope, receive, send_from_edge)
        except Exception:
            logger.exception("http.unhandled_exception", extra={"path": scope["path"]})
            if response_started:
                raise
            await send_problem(send_from_edge, 500, internal_error_document(scope["path"], cid))
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

    async def _checked(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The checks that may answer a request themselves, then the app."""
        if await refuse_unacceptable(scope, send):
            return
        # Before admission: a request still sending its body does not hold a slot.
        received = await self.uploads.receive_body(scope, receive, send)
        if received is None:
            return
        checked = await checked_receive(scope, received, send)  # sees the received body
        if checked is None:
            return
        if self.admission is None:
            await self.app(scope, checked, send)
        else:
            await self.admission.admit(self.app, scope, checked, send)
