"""A fast local webhook receiver: HTTP/1.1 keep-alive on loopback, answering 204 at once.

It parses just enough (headers, `content-length`, `webhook-id`) to hand each request's
id and body to a callback. `serve_counting` runs it in a process of its own for the
benchmark, so the receiver does not share the deliverer's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from multiprocessing.connection import Connection

RESPONSE = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"
OnRequest = Callable[[str, bytes], None]


class _Protocol(asyncio.Protocol):
    def __init__(self, on_request: OnRequest, connections: set[asyncio.Transport]) -> None:
        self.on_request = on_request
        self.connections = connections
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.connections.add(transport)

    def connection_lost(self, _exc: Exception | None) -> None:
        if self.transport is not None:
            self.connections.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (request := self._next()) is not None:
            self.on_request(*request)
            assert self.transport is not None
            self.transport.write(RESPONSE)

    def _next(self) -> tuple[str, bytes] | None:
        """The first whole request in the buffer (removed from it), if there is one."""
        end_of_head = self.buffer.find(b"\r\n\r\n")
        if end_of_head < 0:
            return None
        length, webhook_id = 0, ""
        for line in self.buffer[:end_of_head].decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
            elif name.strip().lower() == "webhook-id":
                webhook_id = value.strip()
        end = end_of_head + 4 + length
        if len(self.buffer) < end:
            return None
        body, self.buffer = self.buffer[end_of_head + 4 : end], self.buffer[end:]
        return webhook_id, body


class Receiver:
    """Listens on 127.0.0.1:`port` between `start` and `stop`; `stop` also drops the
    kept-alive connections, as a receiver that goes down does."""

    def __init__(self, port: int, on_request: OnRequest) -> None:
        self.port = port
        self.on_request = on_request
        self.connections: set[asyncio.Transport] = set()
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.get_running_loop().create_server(
            lambda: _Protocol(self.on_request, self.connections),
            "127.0.0.1",
            self.port,
            reuse_address=True,
        )

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            for connection in list(self.connections):
                connection.abort()
            await self.server.wait_closed()
            self.server = None


def serve_counting(port: int, control: Connection) -> None:
    """A child process: serve until `control` says stop. Each "count" (and the stop) is
    answered with the POSTs and the distinct webhook ids received since the last count."""

    async def main() -> None:
        posts, ids = 0, set[str]()

        def counted(webhook_id: str, _body: bytes) -> None:
            nonlocal posts
            posts += 1
            ids.add(webhook_id)

        receiver = Receiver(port, counted)
        await receiver.start()
        control.send("ready")
        loop = asyncio.get_running_loop()
        while await loop.run_in_executor(None, control.recv) == "count":
            control.send((posts, len(ids)))
            posts, ids = 0, set[str]()
        await receiver.stop()
        control.send((posts, len(ids)))

    asyncio.run(main())
