"""Request body size limit, enforced while the body streams in (chunked bodies included).

Starlette has no limit of its own: without this a client could send gigabytes. A
declared `Content-Length` over the limit is answered at once, before any byte of
the body is read; a body that grows past the limit while streaming is cut off.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.governance.asgi import send_problem
from core.errors import problem_type
from core.problems import problem_document

SLUG = "payload-too-large"
TITLE = "Request body too large"


class PayloadTooLarge(HTTPException):
    """Raised from `receive`: an `HTTPException`, so FastAPI's body parsing passes it on."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body exceeds {max_bytes} bytes")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await send_problem(send, 413, self._problem(scope))
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)

    def _problem(self, scope: Scope) -> dict[str, object]:
        return problem_document(
            type_uri=problem_type(SLUG),
            title=TITLE,
            status=413,
            detail=f"the request body exceeds {self.max_bytes} bytes",
            instance=scope["path"],
            correlation_id=scope.get("state", {}).get("correlation_id"),
            max_bytes=self.max_bytes,
        )
