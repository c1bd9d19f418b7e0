"""A lean HTTP/1.1 GET client for the overload check: keep-alive sockets, no parsing beyond
the status line and headers.

httpx spends about a millisecond of CPU per request; on a two-core machine a load
generator built on it runs out of CPU before the gateway does, and its own queue
then shows up as the gateway's latency. This client costs a few tens of
microseconds per request, so the latencies it reports are the gateway's.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

KEEP_ALIVE_SECONDS = 3.0


@dataclass(frozen=True)
class Reply:
    """`status` 0: no answer (connection refused, reset or closed, or a timeout)."""

    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float


class WireClient:
    """GETs over a pool of keep-alive connections, opening one more when none is idle."""

    def __init__(self, host: str, port: int, headers: dict[str, str], *, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []

    async def get(self, path: str, *, since: float | None = None) -> Reply:
        """GET `path`; the latency counts from `since` (when it was due) if given."""
        started = since if since is not None else time.perf_counter()
        request = f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.extra}\r\n".encode()
        connection = self._reusable()
        if connection is None:
            try:
                connection = await asyncio.wait_for(
                    asyncio.open_connection(self.host, self.port), self.timeout
                )
            except (OSError, TimeoutError):
                return Reply(0, {}, b"", time.perf_counter() - started)
        reader, writer = connection
        try:
            writer.write(request)
            status, headers, body = await asyncio.wait_for(self._answer(reader), self.timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
            writer.close()
            return Reply(0, {}, b"", time.perf_counter() - started)
        self.idle.append((reader, writer, time.monotonic()))
        return Reply(status, headers, body, time.perf_counter() - started)

    def _reusable(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """The most recently used idle connection that the server has not closed and will
        not close before this request reaches it (uvicorn closes one idle for 5 s)."""
        while self.idle:
            reader, writer, idle_since = self.idle.pop()
            if not reader.at_eof() and time.monotonic() - idle_since < KEEP_ALIVE_SECONDS:
                return reader, writer
            writer.close()
        return None

    @staticmethod
    async def _answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in head[1:] if line)
        }
        body = await reader.readexactly(int(headers["content-length"]))
        return status, headers, body

    async def aclose(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()
        self.idle.clear()
