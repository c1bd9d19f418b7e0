"""The floor's raw HTTP client (`bench/posting_floor.py`) keeps connections as the gateway's
transport does: a connection the server closed while it was idle is not reused."""

from __future__ import annotations

import asyncio

from bench.posting_floor import Http


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    connections = 0

    async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(2)
        writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        writer.close()  # as a server does with a connection idle past its keep-alive

    server = await asyncio.start_server(answer_once, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    http = Http(f"http://127.0.0.1:{port}/api", "token")
    async with server:
        assert await http.post("/first", b"{}") == (201, b"{}")
        await asyncio.sleep(0.05)  # the server's close reaches the idle connection
        assert await http.post("/second", b"{}") == (201, b"{}")
        await http.close()
    assert connections == 2
