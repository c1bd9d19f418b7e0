"""Receiving request bodies: size, time and uploads at once per client address.

A body is read in full here, before the request goes further in, so that a slow
sender ties up only itself: the admission limit (`admission.py`), the database pool
and the handlers see a request only once its body has arrived. Three bounds keep a
sender honest:

- size: a declared `Content-Length` over `max_body_bytes` is refused before any byte
  is read, and a body that grows past it while streaming (chunked) is cut off (413);
- time: the whole body must arrive within `request_body_timeout_seconds` (408);
- concurrency: one client address may be sending at most `max_uploads_per_client`
  bodies at once; more are refused at once (429 `too-many-uploads`).

Bodies are at most `max_body_bytes`, so holding one in memory is bounded. Requests
without a body pass straight through.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.governance.asgi import send_problem
from app.governance.rate_limit import client_ip
from app.governance.raw_headers import header
from core.errors import problem_type
from core.problems import problem_document

UPLOAD_RETRY_AFTER_SECONDS = 1
BODY = "ledgergate.body"  # the request's `Replay`, for the layers inside that read it whole


class _TooLarge(Exception):
    """The streamed body grew past the limit."""


class UploadMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        timeout_seconds: float,
        max_per_client: int,
        trusted_proxies: list[str],
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds
        self.max_per_client = max_per_client
        self.trusted_proxies = trusted_proxies
        self.uploading: Counter[str] = Counter()

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """The inner app's awaitable for a request without a body (no frame of its own:
        `asgi.py`); a body is received whole first."""
        if scope["type"] != "http" or not declares_body(scope):
            return self.app(scope, receive, send)
        return self._received(scope, receive, send)

    async def _received(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = header(scope, b"content-length") or ""
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, send)
            return
        address = client_ip(scope, self.trusted_proxies)
        if self.uploading[address] >= self.max_per_client:
            await self._problem(
                scope,
                send,
                429,
                "too-many-uploads",
                "Too many uploads at once",
                f"this address is already sending {self.max_per_client} request bodies; "
                "retry once one has arrived",
                {"Retry-After": str(UPLOAD_RETRY_AFTER_SECONDS)},
            )
            return
        self.uploading[address] += 1
        try:
            async with asyncio.timeout(self.timeout_seconds):
                body = await self._read(receive)
        except TimeoutError:
            await self._problem(
                scope,
                send,
                408,
                "request-timeout",
                "Request body too slow",
                f"the request body did not arrive within {self.timeout_seconds:g} s",
                {"Connection": "close"},
            )
            return
        except _TooLarge:
            await self._too_large(scope, send, {"Connection": "close"})
            return
        finally:
            self.uploading[address] -= 1
            if not self.uploading[address]:
                del self.uploading[address]
        if body is None:  # the client went away mid-upload: nobody to answer
            return
        replay = Replay(body, receive)
        scope[BODY] = replay
        await self.app(scope, replay, send)

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body, or None if the client disconnected first."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _too_large(
        self, scope: Scope, send: Send, headers: dict[str, str] | None = None
    ) -> None:
        await self._problem(
            scope,
            send,
            413,
            "payload-too-large",
            "Request body too large",
            f"the request body exceeds {self.max_bytes} bytes",
            headers,
            max_bytes=self.max_bytes,
        )

    @staticmethod
    async def _problem(
        scope: Scope,
        send: Send,
        status: int,
        slug: str,
        title: str,
        detail: str,
        headers: dict[str, str] | None = None,
        **extensions: object,
    ) -> None:
        document = problem_document(
            type_uri=problem_type(slug),
            title=title,
            status=status,
            detail=detail,
            instance=scope["path"],
            correlation_id=scope.get("state", {}).get("correlation_id"),
            **extensions,
        )
        await send_problem(send, status, document, headers)


def declares_body(scope: Scope) -> bool:
    """Whether the request's headers say it carries a body (a `Content-Length` other than
    0, the first one as `Headers` reads it, or any `Transfer-Encoding`), read from its raw
    headers (names lowercased, as `Headers` reads them too) without building `Headers`."""
    length = None
    for name, value in scope["headers"]:
        if name == b"transfer-encoding":
            return True
        if name == b"content-length" and length is None:
            length = value
    return length is not None and length != b"0"


class Replay:
    """A `receive` that hands over the buffered body, then waits on the connection. The
    middleware inside reads `body` from it, without a coroutine of its own to receive it;
    the route's body reader takes it (`take_body`) without a `receive` and its frames."""

    def __init__(self, body: bytes, receive: Receive) -> None:
        self.body = body
        self._receive = receive
        self.delivered = False

    async def __call__(self) -> Message:
        if self.delivered:
            return await self._receive()
        self.delivered = True
        return {"type": "http.request", "body": self.body, "more_body": False}


def take_body(scope: Scope) -> bytes | None:
    """The body `UploadMiddleware` received, handed over as its `Replay`'s first `receive`
    would hand it (which then waits on the connection); None without one, or once handed."""
    replay: Replay | None = scope.get(BODY)
    if replay is None or replay.delivered:
        return None
    replay.delivered = True
    return replay.body
