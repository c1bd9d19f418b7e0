"""The HTTP protocol `ledgergate serve` runs: uvicorn's httptools protocol, with a deadline
on request headers and each answer's head held to leave with its body (`held_head.py`).

uvicorn bounds only the idle time between requests on a keep-alive connection; a
client that opens a connection and sends its headers a byte at a time holds the
socket for as long as it likes. Here the connection is closed if a request's headers
have not all arrived `request_header_timeout_seconds` after the connection opened or
the request's first byte came. (The body's own deadline is `uploads.py`'s.)
"""

from __future__ import annotations

import asyncio

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from app.governance.held_head import HeldHead
from core.settings import get_settings


class GatewayProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, object],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout = get_settings().request_header_timeout_seconds
        self.header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        previous = self.cycle
        super().on_headers_complete()
        if self.cycle is not previous:  # a request to answer (not a WebSocket upgrade)
            HeldHead(self.cycle)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self.header_deadline is None:
            self.header_deadline = self.loop.call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None

    def _expired(self) -> None:
        self.header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()
