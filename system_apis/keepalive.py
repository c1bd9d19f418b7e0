"""The network transport of the backend clients: HTTP/1.1 on asyncio streams, kept alive.

`httpx.AsyncHTTPTransport` goes through httpcore's connection pool, anyio and h11: every
request paid a cancel scope and a `sniffio` lookup per socket read and write, a shielded
cancel scope and an anyio lock in the pool, a `poll()` of each idle connection plus a
dictionary of socket attributes built to ask whether it is still open, and h11's
validating state machine (about 370 Python calls a request on its own): together
three quarters of the Python work of an ERP request. The resilient client needs none of
it: it reads every answer whole, speaks HTTP/1.1, uses no proxy.

This transport keeps what the client relies on: answers are parsed by llhttp (through
`httptools`, uvicorn's parser): chunked bodies, `Connection: close` and HTTP/1.0,
informational answers, a body framed by the close, a peer that hangs up mid-answer; a
request's head is written here, a header holding a line break or NUL refused (as h11
refuses it). Connections are pooled per origin and reused while the server keeps them
alive (at most `max_connections` open, a caller waits `pool` for one); each phase keeps
its httpx timeout (`connect`, `write`, `read` between two reads of the answer, `pool`)
and its httpx exception (`ConnectTimeout`, `ReadTimeout`, `ConnectError`, `ReadError`,
`RemoteProtocolError`, ...); TLS verifies with the given context (a failure keeps its
`ssl.SSLCertVerificationError` as the cause). A connection whose exchange did not end
cleanly (an error, a cancelled request, bytes nobody asked for) is closed, never reused.
The answer is returned read, its body undecoded (httpx decodes `Content-Encoding` when it
is read). `tests/unit/system_apis/test_keepalive.py` runs each behaviour on this transport
and on httpx's own.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any

import httptools
import httpx

READ_SIZE = 64 * 1024
KEEPALIVE_EXPIRY_SECONDS = 5.0
"""How long an idle connection is kept (httpx's default): servers drop idle ones too."""
DEFAULT_PORTS = {b"http": 80, b"https": 443}
NO_HEADERS = httpx.Headers()
"""Copied without a check of its type (`None` is checked against `Mapping`)."""

Origin = tuple[bytes, str, int]


class WholeBody(httpx.ByteStream):
    """An answer's body as it came, read whole; `plain` when no content coding names it,
    so that the bytes are its content as they are (`ResilientClient` takes them so)."""

    def __init__(self, body: bytes, *, plain: bool) -> None:
        super().__init__(body)
        self.body = body
        self.plain = plain


def parsed_response(
    status: int, headers: list[tuple[bytes, bytes, bytes]], stream: WholeBody, **options: Any
) -> httpx.Response:
    """An answer whose headers are parsed already, as `httpx.Headers` keeps them (name,
    lowercased name, value: bytes); httpx would check and copy each of them again."""
    response = httpx.Response(status, headers=NO_HEADERS, stream=stream, **options)
    response.headers._list = headers
    return response


class _Answer:
    """What the parser (`httptools`, llhttp) reads of one answer, through its callbacks."""

    __slots__ = (
        "parser",
        "headers",
        "body",
        "headed",
        "complete",
        "keep_alive",
        "informational",
        "extra",
        "encoded",
    )

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.headers: list[tuple[bytes, bytes, bytes]] = []
        """Each header as `httpx.Headers` keeps it parsed: its name, lowercased, its value."""
        self.body: list[bytes] = []
        self.headed = False
        """The answer's head is read (an informational one's does not count)."""
        self.complete = False
        self.keep_alive = False
        """The server keeps the connection (asked at the answer's end, as llhttp answers then)."""
        self.informational = False
        self.extra = False
        """Bytes came after the answer: nobody asked for them, so the connection is spent."""
        self.encoded = False
        """The answer names a content coding (even `identity`): httpx's decoders read it."""

    def on_message_begin(self) -> None:
        if self.complete:
            self.extra = True

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.complete:
            lower = name.lower()
            self.headers.append((name, lower, value))
            if lower == b"content-encoding":
                self.encoded = True

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self.informational = True
        else:
            self.headed = True

    def on_body(self, body: bytes) -> None:
        if not self.complete:
            self.body.append(body)

    def on_message_complete(self) -> None:
        if self.informational:  # a 1xx before the answer: read on
            self.informational = False
            self.encoded = False
            self.headers.clear()
        elif not self.complete:
            self.complete = True
            self.keep_alive = self.parser.should_keep_alive()


class _Connection:
    """One HTTP/1.1 connection: its streams and the parser of its current answer."""

    __slots__ = ("origin", "reader", "writer", "idle_until", "spent")

    def __init__(
        self, origin: Origin, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.origin = origin
        self.reader = reader
        self.writer = writer
        self.idle_until = 0.0
        self.spent = False
        """Not to be used again: the server closes it, or the exchange did not end cleanly."""

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
        writer = self.writer
        head = _head(request)
        try:
            if isinstance(request.stream, httpx.ByteStream):
                writer.write(head + request.content)
                await self._drain(timeout.get("write"))
            else:  # streamed: as its headers frame it, by its length or chunked
                chunked = "Content-Length" not in request.headers
                writer.write(head)
                async for chunk in request.stream:  # type: ignore[union-attr]
                    if chunk:
                        writer.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk)
                        await self._drain(timeout.get("write"))
                if chunked:
                    writer.write(b"0\r\n\r\n")
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
        reader = self.reader
        answer = _Answer()
        parser = answer.parser
        head_only = request.method == "HEAD"
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(seconds) as cut:
                while True:
                    data = await reader.read(READ_SIZE)
                    if not data:
                        self._ended_by_close(answer, request)
                        break
                    parser.feed_data(data)
                    if head_only and answer.headed and not answer.complete:
                        answer.complete = self.spent = True  # no body follows, whatever it says
                    if answer.complete:  # no read follows: its timeout is not moved
                        break
                    if seconds is not None:  # the read timeout runs between two reads
                        cut.reschedule(loop.time() + seconds)
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"no answer within {seconds}s", request=request) from exc
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            raise httpx.RemoteProtocolError(f"malformed answer: {exc}", request=request) from exc
        except OSError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        if answer.extra or not answer.keep_alive:
            self.spent = True
        return parsed_response(
            parser.get_status_code(),
            answer.headers,
            WholeBody(b"".join(answer.body), plain=not answer.encoded),
            request=request,
            extensions={"http_version": b"HTTP/" + parser.get_http_version().encode()},
        )

    def _ended_by_close(self, answer: _Answer, request: httpx.Request) -> None:
        """The server hung up: the end of an answer framed by the close, else a broken one."""
        self.spent = True
        framed = any(
            lower in (b"content-length", b"transfer-encoding") for _, lower, _ in answer.headers
        )
        if not answer.headed or framed:
            raise httpx.RemoteProtocolError(
                "the server closed the connection before the answer ended", request=request
            )
        answer.complete = True

    def done(self) -> bool:
        """The exchange ended cleanly and the server keeps the connection: ready for the next."""
        return not self.spent


def _head(request: httpx.Request) -> bytes:
    """The request line and headers. A CR, LF or NUL inside a header (injected from
    somewhere) would split it into two: refused, as h11 refuses it."""
    headers = request.headers._list  # parsed: `raw` would build its pairs first
    head = b"%b %b HTTP/1.1\r\n%b\r\n\r\n" % (
        request.method.encode(),
        request.url.raw_path,
        b"\r\n".join([b"%b: %b" % (name, value) for name, _, value in headers]),
    )
    lines = len(headers) + 2
    if head.count(b"\n") != lines or head.count(b"\r") != lines or b"\0" in head:
        raise httpx.LocalProtocolError("a header holds a line break or NUL", request=request)
    return head


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
    if scheme not in DEFAULT_PORTS or not url.host:
        raise httpx.UnsupportedProtocol(f"cannot send to {url!r}: not an http(s) URL")
    return scheme, url.host, url.port or DEFAULT_PORTS[scheme]
