"""The served gateway's answers leave in one `write()`: each answer served by the gateway's
protocol and by uvicorn's own over a transport that records its writes, the bytes compared."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

import app.served
import bench.serve
from app.governance.held_head import HeldHead
from app.governance.protocol import GatewayProtocol


@dataclass
class RecordingTransport:
    """What a protocol writes to, recorded write by write."""

    writes: list[bytes] = field(default_factory=list)
    closed: bool = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after close"
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 40000)}.get(name)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


JSON = b'{"id":"inv_1"}'
LENGTH = str(len(JSON)).encode()


async def answering(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers by path: the shapes of answer an app sends."""
    path = scope["path"]
    if path == "/boom":
        raise RuntimeError("before the answer")
    if path == "/echo":
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    if path in ("/204", "/304"):
        await send({"type": "http.response.start", "status": int(path[1:]), "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/empty":
        headers = [(b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for chunk in (b"one", b"two"):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    headers = [(b"content-type", b"application/json"), (b"content-length", LENGTH)]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if path == "/half":
        raise RuntimeError("after the head")
    await send({"type": "http.response.body", "body": JSON})


@dataclass
class Served:
    protocol: HttpToolsProtocol
    transport: RecordingTransport
    state: ServerState

    def send(self, data: bytes) -> None:
        self.protocol.data_received(data)

    async def answered(self) -> list[bytes]:
        """The writes once every request so far is answered."""
        while self.state.tasks:
            await asyncio.gather(*self.state.tasks)
            await asyncio.sleep(0)  # a pipelined request starts on the previous one's callback
        return self.transport.writes


def serve(protocol_class: type[HttpToolsProtocol], app: Any = answering, **options: Any) -> Served:
    config = Config(app=app, lifespan="off", log_config=None, proxy_headers=False, **options)
    state = ServerState()
    protocol = protocol_class(config, state, {}, asyncio.get_running_loop())
    transport = RecordingTransport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    return Served(protocol, transport, state)


def request(method: str, path: str, *headers: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: gateway", *headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def both(sent: bytes, **options: Any) -> tuple[list[bytes], list[bytes], Served]:
    """The writes of uvicorn's protocol and of the gateway's for the same bytes received."""
    writes = []
    for protocol_class in (HttpToolsProtocol, GatewayProtocol):
        served = serve(protocol_class, **options)
        served.send(sent)
        writes.append(list(await served.answered()))
        served.protocol.connection_lost(None)
    return writes[0], writes[1], served


@pytest.mark.parametrize(
    ("sent", "uvicorns", "ours"),
    [
        (request("GET", "/invoice"), 2, 1),
        (request("POST", "/echo", body=b'{"a": 1}'), 2, 1),
        (request("GET", "/empty"), 2, 1),
        (request("GET", "/204"), 2, 1),
        (request("GET", "/304"), 2, 1),
        (request("HEAD", "/invoice"), 1, 1),
        (request("GET", "/invoice", "Connection: close"), 2, 1),
        (request("GET", "/invoice") + request("HEAD", "/invoice") + request("GET", "/204"), 5, 3),
        (request("GET", "/stream"), 4, 3),
        (request("GET", "/boom"), 2, 1),
        (request("GET", "/half"), 1, 1),
        (b"GET /invoice HTTP/1.1\r\nHost gateway\r\n\r\n", 1, 1),
    ],
    ids=[
        "json",
        "posted body",
        "empty body",
        "204",
        "304",
        "HEAD",
        "connection close",
        "keep-alive, pipelined",
        "streamed",
        "uvicorn's 500",
        "failed after the head",
        "uvicorn's 400",
    ],
)
async def test_an_answer_leaves_in_one_write_with_the_same_bytes(
    sent: bytes, uvicorns: int, ours: int
) -> None:
    theirs, mine, _ = await both(sent)
    assert (len(theirs), len(mine)) == (uvicorns, ours)
    assert b"".join(mine) == b"".join(theirs)


async def test_answers_close_the_connection_as_uvicorn_does() -> None:
    for sent, closed in [
        (request("GET", "/invoice"), False),
        (request("GET", "/invoice", "Connection: close"), True),
        (request("HEAD", "/invoice", "Connection: close"), True),
        (request("GET", "/half"), True),
    ]:
        served = serve(GatewayProtocol)
        served.send(sent)
        writes = await served.answered()
        assert served.transport.closed is closed, sent
        assert writes[0].startswith(b"HTTP/1.1 "), sent


async def test_uvicorns_503_over_the_concurrency_limit_is_one_write() -> None:
    theirs, mine, _ = await both(request("GET", "/invoice"), limit_concurrency=0)
    assert theirs[0].startswith(b"HTTP/1.1 503 ")
    assert (len(theirs), len(mine), b"".join(mine)) == (2, 1, b"".join(theirs))


async def test_100_continue_then_the_answer_in_one_write() -> None:
    head, body = request("POST", "/echo", "Expect: 100-continue", body=b"abc").split(b"\r\n\r\n")
    writes = {}
    for protocol_class in (HttpToolsProtocol, GatewayProtocol):
        served = serve(protocol_class)
        served.send(head + b"\r\n\r\n")
        for _ in range(3):
            await asyncio.sleep(0)
        assert served.transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
        served.send(body)
        writes[protocol_class] = await served.answered()
    theirs, mine = writes[HttpToolsProtocol], writes[GatewayProtocol]
    assert (len(theirs), len(mine), b"".join(mine)) == (3, 2, b"".join(theirs))


async def test_a_client_gone_before_the_body_is_written_nothing() -> None:
    started = asyncio.Event()
    go_on = asyncio.Event()

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        started.set()
        await go_on.wait()
        await send({"type": "http.response.body", "body": b"late"})

    served = serve(GatewayProtocol, app=slow)
    served.send(request("GET", "/invoice"))
    await started.wait()
    served.protocol.connection_lost(None)
    go_on.set()
    assert await served.answered() == []
    assert served.transport.closed


async def test_the_cycle_is_uvicorns_with_what_the_held_head_relies_on() -> None:
    """Fails loudly if uvicorn's cycle stops writing through `transport` or calling
    `on_response`, or sets `response_started` after writing the head."""
    served = serve(GatewayProtocol)
    served.send(request("GET", "/invoice"))
    cycle = served.protocol.cycle
    assert type(cycle) is RequestResponseCycle
    assert isinstance(cycle.transport, HeldHead)
    assert cycle.on_response == cycle.transport.completed
    await served.answered()
    assert cycle.transport is served.transport  # the head left: uvicorn's own again
    assert cycle.response_started
    assert cycle.response_complete


def test_the_gateway_is_served_with_its_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *_, **options: runs.append(options))
    app.served.serve("127.0.0.1", 8000, 1)
    for kind in bench.serve.GATEWAY_PROTOCOL_KINDS:
        monkeypatch.setenv(bench.serve.KIND_ENV, "")
        monkeypatch.setenv(bench.serve.MIRROR_ENV, "")
        monkeypatch.setattr(sys, "argv", ["bench.serve", kind, "--port", "8000"])
        bench.serve.main()
    assert [run["http"] for run in runs] == [GatewayProtocol] * 5
