"""Load generator: GETs over keep-alive HTTP/1.1 connections, run as its own process.

Reads one JSON plan on stdin and writes one JSON result on stdout, so the server
under test and the generator never share an event loop. The client is deliberately
lean (uvloop, requests serialised once, responses parsed by httptools, the llhttp
parser uvicorn uses): on a small machine the generator competes with the server for
CPU, and a general-purpose client such as httpx spends about as much CPU per
request as the server under test does. Two shapes of load:

- closed loop (`rate` null): `concurrency` connections, each sending its next
  request as soon as the previous one is answered: the server's saturated throughput;
- open loop (`rate` set): requests start on a fixed schedule whatever the answers
  do, at most `concurrency` in flight; latency counts from the scheduled start, so
  a server that falls behind pays for its queue (no coordinated omission).

Both stop at `duration` seconds or `max_requests`, whichever comes first. Only
loopback URLs are accepted. Any answer other than 200, and any transport error or
timeout, counts as an error.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from collections import Counter
from typing import Any, cast
from urllib.parse import urlsplit

import httptools
import uvloop
from pydantic import BaseModel, Field, field_validator

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class Plan(BaseModel):
    urls: list[str] = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    concurrency: int = Field(ge=1, le=512)
    duration: float = Field(gt=0, le=60)
    max_requests: int = Field(ge=1)
    rate: float | None = Field(default=None, gt=0)
    timeout: float = Field(default=10.0, gt=0)

    @field_validator("urls")
    @classmethod
    def _loopback_only(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if urlsplit(url).hostname not in LOOPBACK:
                raise ValueError(f"{url} is not a loopback address")
        return urls


class Result(BaseModel):
    requests: int
    errors: int
    error_kinds: dict[str, int]
    elapsed: float
    latencies_ms: list[float] = Field(description="One per answered request, errors included.")


def request_bytes(url: str, headers: dict[str, str]) -> tuple[tuple[str, int], bytes]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}:{port}", "Accept: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return (host, port), ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[int] | None = None
        self.reusable = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(error)

    def on_message_complete(self) -> None:
        self.reusable = bool(self.parser.should_keep_alive())
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(int(self.parser.get_status_code()))

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        self._fail(exc or ConnectionResetError("the server closed the connection"))

    def _fail(self, error: Exception) -> None:
        self.reusable = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)

    async def send(self, payload: bytes) -> int:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(payload)
        return await self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class Client:
    """Connections to one loopback server, each reused until it fails or is closed."""

    def __init__(self, address: tuple[str, int], timeout: float) -> None:
        self.address = address
        self.timeout = timeout
        self.idle: list[Connection] = []
        self.latencies: list[float] = []
        self.errors: Counter[str] = Counter()

    async def _connection(self) -> Connection:
        if self.idle:
            return self.idle.pop()
        _, connection = await asyncio.get_running_loop().create_connection(
            Connection, *self.address
        )
        return connection

    async def send(self, payload: bytes, started: float) -> None:
        connection: Connection | None = None
        try:
            async with asyncio.timeout(self.timeout):
                connection = await self._connection()
                status = await connection.send(payload)
        except (OSError, TimeoutError, httptools.HttpParserError) as error:
            self.errors[type(error).__name__] += 1
            if connection is not None:
                connection.close()
        else:
            if status != 200:
                self.errors[str(status)] += 1
            if connection.reusable:
                self.idle.append(connection)
            else:
                connection.close()
        self.latencies.append((time.perf_counter() - started) * 1000)

    def close(self) -> None:
        for connection in self.idle:
            connection.close()


async def closed_loop(plan: Plan, client: Client, payloads: list[bytes]) -> None:
    requests = itertools.cycle(payloads)
    budget = itertools.count()
    deadline = time.perf_counter() + plan.duration

    async def worker() -> None:
        while time.perf_counter() < deadline and next(budget) < plan.max_requests:
            await client.send(next(requests), time.perf_counter())

    await asyncio.gather(*(worker() for _ in range(plan.concurrency)))


async def open_loop(plan: Plan, client: Client, payloads: list[bytes]) -> None:
    assert plan.rate is not None
    requests = itertools.cycle(payloads)
    slots = asyncio.Semaphore(plan.concurrency)
    tasks: set[asyncio.Task[None]] = set()
    begun = time.perf_counter()
    total = min(plan.max_requests, int(plan.duration * plan.rate))

    async def one(payload: bytes, scheduled: float) -> None:
        async with slots:
            await client.send(payload, scheduled)

    for index in range(total):
        scheduled = begun + index / plan.rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(next(requests), scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)


async def run(plan: Plan) -> Result:
    prepared = [request_bytes(url, plan.headers) for url in plan.urls]
    addresses = {address for address, _ in prepared}
    if len(addresses) != 1:
        raise ValueError("every URL of a plan must name the same server")
    client = Client(addresses.pop(), plan.timeout)
    payloads = [payload for _, payload in prepared]
    started = time.perf_counter()
    try:
        if plan.rate is None:
            await closed_loop(plan, client, payloads)
        else:
            await open_loop(plan, client, payloads)
    finally:
        client.close()
    elapsed = time.perf_counter() - started
    return Result(
        requests=len(client.latencies),
        errors=sum(client.errors.values()),
        error_kinds=dict(client.errors),
        elapsed=elapsed,
        latencies_ms=[round(latency, 3) for latency in client.latencies],
    )


def main() -> int:
    plan = Plan.model_validate_json(sys.stdin.read())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        result = runner.run(run(plan))
    payload: dict[str, Any] = result.model_dump()
    sys.stdout.write(json.dumps(payload))
    return 0


if __name__ == "__main__":
    sys.exit(main())
