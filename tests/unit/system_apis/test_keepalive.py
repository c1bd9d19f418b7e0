"""The backend clients' network transport against a real HTTP/1.1 server on loopback.

Each behaviour runs on `PooledTransport` and on httpx's own transport, which it
replaces: same answers, same exceptions, same connection reuse.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from core.settings import BackendSettings
from system_apis.http import ResilientClient, public_tls
from system_apis.keepalive import PooledTransport
from tests.support.python_calls import profiled

Answer = Callable[[bytes, asyncio.StreamWriter], Awaitable[bool]]
"""Writes the answer to one request (its head and body as read); False closes the connection."""


@dataclass
class Server:
    url: str
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)


def ok(body: bytes = b"{}", *extra: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" + b"".join(extra)
    return head + b"content-length: %d\r\n\r\n" % len(body) + body


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + (await reader.readexactly(length) if length else b"")


Serve = Callable[[Answer], Awaitable[Server]]
MakeClient = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[asyncio.Server] = []

    async def start(answer: Answer) -> Server:
        server = Server(url="")

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            server.connections += 1
            try:
                while True:
                    request = await read_request(reader)
                    server.requests.append(request)
                    keep = await answer(request, writer)
                    await writer.drain()
                    if not keep:
                        break
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        listening = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(listening)
        server.url = f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}"
        return server

    yield start
    for listening in servers:
        listening.close()


TRANSPORTS: dict[str, Callable[[int], httpx.AsyncBaseTransport]] = {
    "pooled": lambda limit: PooledTransport(ssl_context=public_tls(), max_connections=limit),
    "httpx": lambda limit: httpx.AsyncHTTPTransport(
        limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit)
    ),
}


@pytest.fixture(params=list(TRANSPORTS))
async def make_client(
    request: pytest.FixtureRequest,
) -> AsyncIterator[MakeClient]:
    clients: list[httpx.AsyncClient] = []

    def make(server: Server, *, limit: int = 10, **timeouts: float) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            base_url=server.url,
            transport=TRANSPORTS[request.param](limit),
            timeout=httpx.Timeout(2.0, **timeouts),
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


async def keep_alive(request: bytes, writer: asyncio.StreamWriter) -> bool:
    writer.write(ok(b'{"n": %d}' % request.split(b" ")[1].count(b"x")))
    return True


async def test_a_connection_is_kept_alive_for_the_next_request(
    serve: Serve, make_client: MakeClient
) -> None:
    server = await serve(keep_alive)
    client = make_client(server)

    answers = [(await client.get(path)).json() for path in ("/x", "/xx", "/xxx")]

    assert answers == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert server.connections == 1


async def test_a_body_is_sent_and_a_chunked_gzipped_answer_read_whole(
    serve: Serve, make_client: MakeClient
) -> None:
    async def chunked(request: bytes, writer: asyncio.StreamWriter) -> bool:
        body = gzip.compress(request.partition(b"\r\n\r\n")[2] * 1000)
        writer.write(
            b"HTTP/1.1 201 Created\r\ncontent-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        half = len(body) // 2
        for part in (body[:half], body[half:]):
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\n\r\n")
        return True

    server = await serve(chunked)
    client = make_client(server)

    response = await client.post("/batch", json={"a": 1})
    again = await client.post("/batch", content=b"z")

    assert response.status_code == 201
    assert response.content == b'{"a":1}' * 1000
    assert again.content == b"z" * 1000
    assert server.connections == 1
    assert b"content-length: 7" in server.requests[0].lower()


async def test_an_answer_saying_close_is_not_reused(serve: Serve, make_client: MakeClient) -> None:
    async def closing(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(ok(b"{}", b"connection: close\r\n"))
        return False

    server = await serve(closing)
    client = make_client(server)

    for _ in range(3):
        assert (await client.get("/")).json() == {}
    assert server.connections == 3


async def test_a_connection_the_server_closed_while_idle_is_not_reused(
    serve: Serve, make_client: MakeClient
) -> None:
    async def answer_then_hang_up(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(ok())
        return False  # no `connection: close`: the client learns it from the socket

    server = await serve(answer_then_hang_up)
    client = make_client(server)

    await client.get("/")
    await asyncio.sleep(0.05)
    assert (await client.get("/")).json() == {}
    assert server.connections == 2


async def test_bytes_sent_unasked_to_an_idle_connection_are_not_taken_as_an_answer(
    serve: Serve, make_client: MakeClient
) -> None:
    async def then_a_timeout_notice(request: bytes, writer: asyncio.StreamWriter) -> bool:
        if b"/first" in request:
            writer.write(ok(b'{"first": true}'))
            await writer.drain()
            await asyncio.sleep(0.01)
            writer.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
            await asyncio.sleep(0.2)  # before hanging up
            return False
        writer.write(ok(b'{"second": true}'))
        return True

    server = await serve(then_a_timeout_notice)
    client = make_client(server)

    assert (await client.get("/first")).json() == {"first": True}
    await asyncio.sleep(0.05)
    second = await client.get("/second")

    assert (second.status_code, second.json()) == (200, {"second": True})
    assert server.connections == 2


async def test_a_slow_answer_is_a_read_timeout_and_its_connection_is_dropped(
    serve: Serve, make_client: MakeClient
) -> None:
    async def slow_first(request: bytes, writer: asyncio.StreamWriter) -> bool:
        if b"/slow" in request:
            await asyncio.sleep(0.3)
        writer.write(ok(b'{"late": %d}' % (b"/slow" in request)))
        return True

    server = await serve(slow_first)
    client = make_client(server, read=0.1)

    with pytest.raises(httpx.ReadTimeout):
        await client.get("/slow")
    answer = await client.get("/fast")

    assert answer.json() == {"late": 0}  # not the slow request's late answer
    assert server.connections == 2


async def test_the_read_timeout_runs_between_reads_not_over_the_whole_answer(
    serve: Serve, make_client: MakeClient
) -> None:
    async def trickle(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n")
        for byte in b"hello":
            await writer.drain()
            await asyncio.sleep(0.06)
            writer.write(bytes([byte]))
        return True

    server = await serve(trickle)
    client = make_client(server, read=0.2)

    assert (await client.get("/")).content == b"hello"  # 0.3 s in all


async def test_a_cancelled_request_leaves_no_connection_to_reuse(
    serve: Serve, make_client: MakeClient
) -> None:
    async def slow_first(request: bytes, writer: asyncio.StreamWriter) -> bool:
        if b"/slow" in request:
            await asyncio.sleep(0.2)
        writer.write(ok(b'{"slow": %d}' % (b"/slow" in request)))
        return True

    server = await serve(slow_first)
    client = make_client(server)

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await client.get("/slow")
    await asyncio.sleep(0.3)

    assert (await client.get("/fast")).json() == {"slow": 0}
    assert server.connections == 2


async def test_no_more_connections_than_the_limit_and_a_wait_for_one_is_bounded(
    serve: Serve, make_client: MakeClient
) -> None:
    async def slow(request: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.1)
        writer.write(ok())
        return True

    server = await serve(slow)
    client = make_client(server, limit=2)
    answers = await asyncio.gather(*(client.get("/") for _ in range(6)))
    assert [answer.status_code for answer in answers] == [200] * 6
    assert server.connections == 2

    hurried = make_client(server, limit=1, pool=0.05)
    first = asyncio.create_task(hurried.get("/"))
    await asyncio.sleep(0.01)
    with pytest.raises(httpx.PoolTimeout):
        await hurried.get("/")
    assert (await first).status_code == 200


async def test_a_refused_connection_is_a_connect_error(make_client: MakeClient) -> None:
    listening = await asyncio.start_server(lambda *_: None, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    listening.close()
    await listening.wait_closed()
    client = make_client(Server(url=f"http://127.0.0.1:{port}"))

    with pytest.raises(httpx.ConnectError):
        await client.get("/")


async def test_a_server_hanging_up_mid_answer_is_a_protocol_error(
    serve: Serve, make_client: MakeClient
) -> None:
    async def half(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf")
        return False

    server = await serve(half)
    client = make_client(server)

    with pytest.raises(httpx.RemoteProtocolError):
        await client.get("/")


async def test_an_informational_answer_before_the_answer_is_skipped(
    serve: Serve, make_client: MakeClient
) -> None:
    async def continue_first(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b'{"after": "continue"}'))
        return True

    server = await serve(continue_first)
    client = make_client(server)

    for _ in range(2):
        answer = await client.get("/")
        assert (answer.status_code, answer.json()) == (200, {"after": "continue"})
    assert server.connections == 1


async def test_an_answer_framed_by_the_close_is_read_to_the_end(
    serve: Serve, make_client: MakeClient
) -> None:
    async def until_close(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n")
        for part in (b"all ", b"of ", b"it"):
            await writer.drain()
            await asyncio.sleep(0.01)
            writer.write(part)
        return False

    server = await serve(until_close)
    client = make_client(server)

    assert (await client.get("/")).text == "all of it"
    assert (await client.get("/")).text == "all of it"
    assert server.connections == 2


async def test_a_head_answer_has_no_body_whatever_its_length_says(
    serve: Serve, make_client: MakeClient
) -> None:
    async def head(request: bytes, writer: asyncio.StreamWriter) -> bool:
        if request.startswith(b"HEAD"):
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
        else:
            writer.write(ok())
        return True

    server = await serve(head)
    client = make_client(server, read=1.0)

    answer = await client.head("/")
    assert (answer.status_code, answer.content) == (200, b"")
    assert (await client.get("/")).json() == {}


async def test_a_header_holding_a_line_break_is_never_sent(
    serve: Serve, make_client: MakeClient
) -> None:
    server = await serve(keep_alive)
    client = make_client(server)

    with pytest.raises(httpx.LocalProtocolError):
        await client.get("/", headers={"X-Correlation-ID": "a\r\nX-Injected: yes"})
    assert server.requests == []


async def test_a_streamed_body_is_sent_as_its_headers_frame_it(
    serve: Serve, make_client: MakeClient
) -> None:
    """A multipart upload is streamed with its `Content-Length`: its bytes go as they are."""
    server = await serve(keep_alive)
    client = make_client(server)

    upload = await client.post("/files", files={"file": ("a.txt", b"x" * 300)})
    again = await client.get("/x")

    assert (upload.status_code, again.json()) == (200, {"n": 1})
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    assert b"content-length: %d" % len(body) in head.lower()
    assert body.startswith(b"--")
    assert body.count(b"x" * 300) == 1


async def test_a_url_that_is_not_http_is_refused(make_client: MakeClient) -> None:
    client = make_client(Server(url="http://127.0.0.1:9"))

    with pytest.raises(httpx.UnsupportedProtocol):
        await client.get("ftp://127.0.0.1/file")


async def test_an_upgrade_nobody_asked_for_is_a_protocol_error(serve: Serve) -> None:
    async def switching(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n"
        )
        return True

    server = await serve(switching)
    transport = PooledTransport(ssl_context=public_tls(), max_connections=1)
    async with httpx.AsyncClient(base_url=server.url, transport=transport) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/")
        assert transport.idle_connections == 0


@pytest.mark.parametrize("encoding", [b"", b"content-encoding: gzip\r\n"])
async def test_the_client_reads_an_answer_as_httpx_reads_it(serve: Serve, encoding: bytes) -> None:
    body = b'{"amount": 10.10, "name": "caf\xc3\xa9"}'

    async def answer(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(ok(gzip.compress(body) if encoding else body, encoding))
        return True

    server = await serve(answer)
    read: dict[str, httpx.Response] = {}
    for name, transport in TRANSPORTS.items():
        client = ResilientClient(
            backend="erp",
            base_url=server.url,
            settings=BackendSettings(),
            transport=transport(1),
        )
        read[name] = await client.request("GET", "/x", operation="get_x")
        await client.aclose()

    pooled, reference = read["pooled"], read["httpx"]
    assert pooled.content == reference.content == body
    assert pooled.text == reference.text
    assert pooled.json() == reference.json()
    assert pooled.headers.multi_items() == reference.headers.multi_items()
    assert pooled.is_closed
    assert pooled.is_stream_consumed
    assert pooled.num_bytes_downloaded == reference.num_bytes_downloaded


async def warm_exchange(serve: Serve, answer: Answer) -> tuple[httpx.Response, profiled]:
    """A GET through the pooled transport to a server answering `answer`, once its
    connection is open: the answer, and the second exchange's calls."""
    server = await serve(answer)
    client = ResilientClient(
        backend="erp",
        base_url=server.url,
        settings=BackendSettings(),
        transport=TRANSPORTS["pooled"](1),
    )
    await client.request("GET", "/x", operation="get_x")
    request = client._request("GET", "/x", None, None, None, {})
    with profiled() as seen:
        response = await client._exchange(request)
    await client.aclose()
    return response, seen


async def test_a_plain_answer_is_not_read_again_through_httpxs_stream(serve: Serve) -> None:
    """The transport read the body whole: httpx's `aread` (its iterators, decoder lookup
    and request contexts) cost about 40 calls an answer for bytes already there."""

    async def answer(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(ok(b'{"n": 1}'))
        return True

    response, seen = await warm_exchange(serve, answer)

    assert response.content == b'{"n": 1}'
    httpx_calls = sum(calls for (path, _, _), (_, calls, *_) in seen.entries if "/httpx/" in path)
    assert httpx_calls <= 20


async def test_an_answer_read_at_once_moves_no_timeout_and_keeps_its_parsed_headers(
    serve: Serve,
) -> None:
    """The read timeout is moved only when another read follows (each move cancels a
    timer and schedules another), and the parsed headers are the answer's as they are:
    httpx checked and encoded each again (about 30 calls an answer together)."""

    async def answer(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(ok(b'{"n": 1}', b"x-a: 1\r\nx-b: 2\r\n"))
        return True

    response, seen = await warm_exchange(serve, answer)

    assert response.headers.multi_items() == [
        ("content-type", "application/json"),
        ("x-a", "1"),
        ("x-b", "2"),
        ("content-length", "8"),
    ]
    called = {name: calls for (_, _, name), (_, calls, *_) in seen.entries}
    assert called.get("reschedule") == 1  # entering the read's timeout; none after the read
    assert "_normalize_header_key" not in called
    assert "raw" not in called  # the request's head written from its parsed headers
