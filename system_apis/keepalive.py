"""The network transport of the backend clients: HTTP/1.1 on asyncio streams, kept alive.

`httpx.AsyncHTTPTransport` goes through httpcore's connection pool and anyio: every
request pays a cancel scope and a `sniffio` lookup per socket read and write, a shielded
cancel scope and an anyio lock in the pool, and a `poll()` of each idle connection plus
a dictionary of socket attributes built to ask whether it is still open; about a third
of the Python work of an ERP request on the posting path. The resilient client needs
none of it: it reads every answer whole, speaks HTTP/1.1, uses no proxy.

This transport keeps what the client relies on: `h11` frames every request and answer
(chunked bodies, `Connection: close`, informational answers, a peer that hangs up),
connections are pooled per origin and reused while the server keeps them alive (at most
`max_connections` open, a caller waits `pool` for one), each phase keeps its httpx
timeout (`connect`, `write`, `read` between two reads of the answer, `pool`) and its
httpx exception (`ConnectTimeout`, `ReadTimeout`, `ConnectError`, `ReadError`,
`RemoteProtocolError`, ...), TLS verifies with the given context (a failure keeps its
`ssl.SSLCertVerificationError` as the cause). A connection whose exchange did not finish
(an error, a cancelled request) is closed, never reused. The answer is returned read,
its body undecoded (httpx decodes `Content-Encoding` when it is read).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any

import h11
import httpx

READ_SIZE = 64 * 1024
KEEPALIVE_EXPIRY_SECONDS = 5.0
"""How long an idle connection is kept (httpx's default): servers drop idle ones too."""
DEFAULT_PORTS = {b"http": 80, b"https": 443}

Origin = tuple[bytes, str, int]


class _Connection:
    """One HTTP/1.1 connection: its streams and its h11 state."""

    __slots__ = ("origin", "reader", "writer", "h11", "idle_until")

    def __init__(
        self, origin: Origin, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.origin = origin
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT)
        self.idle_until = 0.0

    def reusable(self, now: float) -> bool:
        """Idle and still open: the server has not hung up (nor sent anything unasked)."""
        return (
            now < self.idle_until
            and not self.reader.at_eof()
            and not self.writer.is_closing()
            and not self.reader._buffer  # type: ignore[attr-defined]  # bytes sent unasked
        )

    def close(self) -> None:
        self.writer.close()

    async def exchange(self, request: httpx.Request, timeout: dict[str, Any]) -> httpx.Response:
        connection = self.h11
        head = connection.send(
            h11.Request(
                method=request.method,
                target=request.url.raw_path,
                headers=request.headers.raw,
            )
        )
        writer = self.writer
        try:
            writer.write(head)
            if isinstance(request.stream, httpx.ByteStream):
                if body := request.content:
                    writer.write(connection.send(h11.Data(data=body)))
                await self._drain(timeout.get("write"))
            else:
                async for chunk in request.stream:  # type: ignore[union-attr]
                    writer.write(connection.send(h11.Data(data=chunk)))
                    await self._drain(timeout.get("write"))
            writer.write(connection.send(h11.EndOfMessage()))
            await self._drain(timeout.get("write"))
        except OSError as exc:
            raise httpx.WriteError(str(exc) or type(exc).__name__, request=request) from exc
        return await self._answer(request, timeout.get("read"))

    async def _drain(self, seconds: float | None) -> None:
        """Wait for the socket to take the bytes only if it has not already (the usual case)."""
        if not self.writer.transport.get_write_buffer_size():
            return
        try:
            async with asyncio.timeout(seconds):
                await self.writer.drain()
        except TimeoutError as exc:
            raise httpx.WriteTimeout(f"not sent within {seconds}s") from exc

    async def _answer(self, request: httpx.Request, seconds: float | None) -> httpx.Response:
        connection, reader = self.h11, self.reader
        loop = asyncio.get_running_loop()
        response: h11.Response | None = None
        body: list[bytes] = []
        try:
            async with asyncio.timeout(seconds) as cut:
                while True:
                    event = connection.next_event()
                    if event is h11.NEED_DATA:
                        connection.receive_data(await reader.read(READ_SIZE))
                        if seconds is not None:  # the read timeout runs between two reads
                            cut.reschedule(loop.time() + seconds)
                    elif isinstance(event, h11.Data):
                        body.append(event.data)
                    elif isinstance(event, h11.Response):
                        response = event
                    elif isinstance(event, h11.EndOfMessage):
                        break
                    elif isinstance(event, h11.ConnectionClosed):
                        raise httpx.RemoteProtocolError(
                            "the server closed the connection before answering", request=request
                        )
                    # an InformationalResponse (1xx) precedes the answer: read on
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"no answer within {seconds}s", request=request) from exc
        except h11.RemoteProtocolError as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        except OSError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        assert response is not None  # h11 yields the answer's head before its end
        return httpx.Response(
            response.status_code,
            headers=response.headers.raw_items(),
            stream=httpx.ByteStream(b"".join(body)),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": response.reason},
        )

    def done(self) -> bool:
        """Both sides finished cleanly and the server keeps the connection: ready for the next."""
        connection = self.h11
        if connection.our_state is h11.DONE and connection.their_state is h11.DONE:
            connection.start_next_cycle()
            return True
        return False


class PooledTransport(httpx.AsyncBaseTransport):
    """Pooled HTTP/1.1 connections per origin, at most `max_connections` open."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext,
        max_connections: int,
        keepalive_expiry: float = KEEPALIVE_EXPIRY_SECONDS,
    ) -> None:
        self.ssl_context = ssl_context
        self.max_connections = max_connections
        self.keepalive_expiry = keepalive_expiry
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(max_connections)
        """One per request under way: with the idle ones, never more than the limit open."""
        self._active = 0
        """Requests holding a slot."""

    @property
    def idle_connections(self) -> int:
        return len(self._idle)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout: dict[str, Any] = request.extensions.get("timeout", {})
        slots = self._slots
        if slots.locked():
            try:
                async with asyncio.timeout(timeout.get("pool")):
                    await slots.acquire()
            except TimeoutError as exc:
                raise httpx.PoolTimeout("no connection free in time", request=request) from exc
        else:
            await slots.acquire()  # returns at once
        self._active += 1
        try:
            connection = self._idle_for(request.url) or await self._connect(
                request, timeout.get("connect")
            )
            try:
                response = await connection.exchange(request, timeout)
            except BaseException:
                connection.close()
                raise
            if connection.done():
                connection.idle_until = time.monotonic() + self.keepalive_expiry
                self._idle.append(connection)
            else:
                connection.close()
            return response
        finally:
            self._active -= 1
            slots.release()

    def _idle_for(self, url: httpx.URL) -> _Connection | None:
        """The most recently used open connection to the URL's origin, if any (others that
        expired or were closed by the server are dropped on the way)."""
        idle = self._idle
        if not idle:
            return None
        origin = _origin(url)
        now = time.monotonic()
        for index in range(len(idle) - 1, -1, -1):
            connection = idle[index]
            if not connection.reusable(now):
                del idle[index]
                connection.close()
            elif connection.origin == origin:
                del idle[index]
                return connection
        return None

    async def _connect(self, request: httpx.Request, seconds: float | None) -> _Connection:
        origin = _origin(request.url)
        scheme, host, port = origin
        if self._idle and len(self._idle) + self._active > self.max_connections:
            self._idle.pop(0).close()  # room for this one: the longest idle (another origin's) goes
        tls = self.ssl_context if scheme == b"https" else None
        try:
            async with asyncio.timeout(seconds):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=tls, server_hostname=host if tls else None, limit=READ_SIZE
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"not connected within {seconds}s", request=request) from exc
        except OSError as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from exc
        return _Connection(origin, reader, writer)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


def _origin(url: httpx.URL) -> Origin:
    scheme = url.raw_scheme
    return scheme, url.host, url.port or DEFAULT_PORTS[scheme]
