"""Transports that make a backend fail on demand."""

from __future__ import annotations

from collections.abc import Callable

import httpx


class SwitchableTransport(httpx.AsyncBaseTransport):
    """Passes requests through, or fails them like an unreachable host while `down`, or
    only those whose URL path contains `down_for` (one kind of document, say)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.down = False
        self.down_for: str | None = None
        self.refused = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down or (self.down_for is not None and self.down_for in request.url.path):
            self.refused += 1
            raise httpx.ConnectError("connection refused (injected)", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


Wrap = Callable[[str, httpx.AsyncBaseTransport], httpx.AsyncBaseTransport]


def switchable_backends() -> tuple[dict[str, SwitchableTransport], Wrap]:
    """A gateway's `wrap` that puts each backend behind a `SwitchableTransport`, and those
    transports by backend name (filled as the gateway starts)."""
    switches: dict[str, SwitchableTransport] = {}

    def wrap(name: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        switches[name] = SwitchableTransport(inner)
        return switches[name]

    return switches, wrap


class LostAnswerTransport(httpx.AsyncBaseTransport):
    """Passes requests through; the first one `lose` matches is handled by the backend and
    its answer lost (a read timeout), as when a connection drops after the write."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.lose: Callable[[httpx.Request], bool] | None = None
        self.lost = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if self.lose is not None and self.lose(request):
            self.lose = None
            self.lost += 1
            await response.aread()
            raise httpx.ReadTimeout("answer lost after the write (injected)", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
