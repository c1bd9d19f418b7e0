"""An httpx transport that records every request and response passing through it."""

from __future__ import annotations

from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Exchange:
    request: httpx.Request
    request_body: bytes
    response: httpx.Response
    response_body: bytes


class RecordingTransport(httpx.AsyncBaseTransport):
    """Wraps another transport; `exchanges` lists what crossed it, oldest first."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        self.exchanges.append(Exchange(request, body, response, content))
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            content=content,
            request=request,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()
