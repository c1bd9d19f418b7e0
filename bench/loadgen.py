"""Load generator: units of HTTP requests over keep-alive HTTP/1.1, run as its own process.

Reads one JSON plan on stdin and writes one JSON result on stdout, so the server
under test and the generator never share an event loop. The client is deliberately
lean (uvloop, requests serialised once, responses parsed by httptools, the llhttp
parser uvicorn uses): on a small machine the generator competes with the server for
CPU, and a general-purpose client such as httpx spends about as much CPU per
request as the server under test does.

A plan is a list of units, each one or more steps (requests) sent in order and timed
together: a governed read is one GET; a posting made directly against an ERP is
create, add a line, post. A step may carry its own headers (a unique
`Idempotency-Key`) and a JSON body, names the statuses it expects, and may capture
top-level fields of its JSON answer for later steps of the same unit, which refer to
them as `{{name}}` in their URL or body. Two shapes of load:

- closed loop (`rate` null): `concurrency` workers, each starting its next unit as
  soon as the previous one is answered: the server's saturated throughput;
- open loop (`rate` set): units start on a fixed schedule whatever the answers do,
  at most `concurrency` in flight; latency counts from the scheduled start, so a
  server that falls behind pays for its queue (no coordinated omission).

Units are taken in turn, cycling, or each at most once (`once`, for writes that
must not repeat). Both shapes stop at `duration` seconds or `max_requests` units,
whichever comes first. Only loopback URLs are accepted. A unit with an unexpected
status, a transport error or a timeout counts as one error and stops there.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import httptools
import uvloop
from pydantic import BaseModel, Field, field_validator

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class Step(BaseModel):
    """One request of a unit."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = Field(default=None, description="JSON text, sent as it is.")
    expect: list[int] = Field(default=[200], min_length=1)
    capture: dict[str, str] = Field(
        default_factory=dict, description="Name -> top-level field of the JSON answer."
    )

    @field_validator("url")
    @classmethod
    def _loopback_only(cls, url: str) -> str:
        if urlsplit(url).hostname not in LOOPBACK:
            raise ValueError(f"{url} is not a loopback address")
        return url


class Unit(BaseModel):
    steps: list[Step] = Field(min_length=1)


def gets(urls: Iterable[str]) -> list[Unit]:
    """One single-GET unit per URL."""
    return [Unit(steps=[Step(url=url)]) for url in urls]


class Plan(BaseModel):
    units: list[Unit] = Field(min_length=1)
    headers: dict[str, str] = Field(
        default_factory=dict, description="Sent with every step, under the step's own."
    )
    concurrency: int = Field(ge=1, le=512)
    duration: float = Field(gt=0, le=60)
    max_requests: int = Field(ge=1, description="Units to start at most.")
    once: bool = False
    rate: float | None = Field(default=None, gt=0)
    timeout: float = Field(default=10.0, gt=0, description="Seconds per unit.")


class Result(BaseModel):
    requests: int = Field(description="Units sent.")
    http_requests: int = Field(description="HTTP requests sent, every step of every unit.")
    errors: int
    error_kinds: dict[str, int]
    elapsed: float
    latencies_ms: list[float] = Field(description="One per finished unit, errors included.")


Address = tuple[str, int]
PLACEHOLDER = "{{"


def request_bytes(
    method: str, url: str, headers: dict[str, str], body: str | None
) -> tuple[Address, bytes]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}", "Accept: application/json"]
    content = b"" if body is None else body.encode()
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(content)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return (host, port), ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + content


@dataclass(frozen=True)
class Prepared:
    """A step ready to send: its bytes, or, when it uses captured values, how to make them."""

    address: Address
    payload: bytes | None
    step: Step
    headers: dict[str, str]
    expect: frozenset[int]

    @classmethod
    def of(cls, step: Step, common: dict[str, str]) -> Prepared:
        headers = {**common, **step.headers}
        address, payload = request_bytes(step.method, step.url, headers, step.body)
        templated = PLACEHOLDER in step.url or PLACEHOLDER in (step.body or "")
        return cls(address, None if templated else payload, step, headers, frozenset(step.expect))

    def render(self, values: dict[str, str]) -> bytes:
        if self.payload is not None:
            return self.payload
        url, body = self.step.url, self.step.body
        for name, value in values.items():
            url = url.replace(f"{{{{{name}}}}}", value)
            body = body.replace(f"{{{{{name}}}}}", value) if body is not None else None
        if PLACEHOLDER in url or PLACEHOLDER in (body or ""):
            raise KeyError(f"no captured value for a placeholder of {self.step.url}")
        return request_bytes(self.step.method, url, self.headers, body)[1]


class Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[int] | None = None
        self.reusable = True
        self.keep_body = False
        self.body = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(error)

    def on_body(self, body: bytes) -> None:
        if self.keep_body:
            self.body.extend(body)

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

    async def send(self, payload: bytes, *, keep_body: bool) -> int:
        assert self.transport is not None
        self.keep_body = keep_body
        self.body.clear()
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(payload)
        return await self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class UnexpectedStatus(Exception):
    pass


class Client:
    """Connections to one loopback server, each reused until it fails or is closed."""

    def __init__(self, address: Address, timeout: float) -> None:
        self.address = address
        self.timeout = timeout
        self.idle: list[Connection] = []
        self.latencies: list[float] = []
        self.http_requests = 0
        self.errors: Counter[str] = Counter()

    async def _connection(self) -> Connection:
        if self.idle:
            return self.idle.pop()
        _, connection = await asyncio.get_running_loop().create_connection(
            Connection, *self.address
        )
        return connection

    async def _exchange(self, payload: bytes, *, keep_body: bool) -> tuple[int, bytes]:
        connection = await self._connection()
        self.http_requests += 1
        try:
            status = await connection.send(payload, keep_body=keep_body)
        except BaseException:
            connection.close()
            raise
        body = bytes(connection.body) if keep_body else b""
        if connection.reusable:
            self.idle.append(connection)
        else:
            connection.close()
        return status, body

    async def send(self, unit: list[Prepared], started: float) -> None:
        values: dict[str, str] = {}
        at = ""
        try:
            async with asyncio.timeout(self.timeout):
                for index, prepared in enumerate(unit):
                    at = f"step {index + 1}: " if len(unit) > 1 else ""
                    capture = prepared.step.capture
                    status, body = await self._exchange(
                        prepared.render(values), keep_body=bool(capture)
                    )
                    if status not in prepared.expect:
                        raise UnexpectedStatus(str(status))
                    if capture:
                        answer = json.loads(body)
                        values.update({name: str(answer[key]) for name, key in capture.items()})
        except UnexpectedStatus as error:
            self.errors[at + str(error)] += 1
        except (OSError, TimeoutError, httptools.HttpParserError, ValueError, KeyError) as error:
            self.errors[at + type(error).__name__] += 1
        self.latencies.append((time.perf_counter() - started) * 1000)

    def close(self) -> None:
        for connection in self.idle:
            connection.close()


def schedule(plan: Plan, units: list[list[Prepared]]) -> Iterator[list[Prepared]]:
    """The units to send, in order: each once, or cycling; `max_requests` at most."""
    source = iter(units) if plan.once else itertools.cycle(units)
    return itertools.islice(source, plan.max_requests)


async def closed_loop(plan: Plan, client: Client, units: Iterator[list[Prepared]]) -> None:
    deadline = time.perf_counter() + plan.duration

    async def worker() -> None:
        while time.perf_counter() < deadline and (unit := next(units, None)) is not None:
            await client.send(unit, time.perf_counter())

    await asyncio.gather(*(worker() for _ in range(plan.concurrency)))


async def open_loop(plan: Plan, client: Client, units: Iterator[list[Prepared]]) -> None:
    assert plan.rate is not None
    slots = asyncio.Semaphore(plan.concurrency)
    tasks: set[asyncio.Task[None]] = set()
    begun = time.perf_counter()

    async def one(unit: list[Prepared], scheduled: float) -> None:
        async with slots:
            await client.send(unit, scheduled)

    scheduled_units = itertools.islice(units, int(plan.duration * plan.rate))
    for index, unit in enumerate(scheduled_units):
        scheduled = begun + index / plan.rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(unit, scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)


async def run(plan: Plan) -> Result:
    units = [[Prepared.of(step, plan.headers) for step in unit.steps] for unit in plan.units]
    addresses = {prepared.address for unit in units for prepared in unit}
    if len(addresses) != 1:
        raise ValueError("every URL of a plan must name the same server")
    client = Client(addresses.pop(), plan.timeout)
    started = time.perf_counter()
    try:
        if plan.rate is None:
            await closed_loop(plan, client, schedule(plan, units))
        else:
            await open_loop(plan, client, schedule(plan, units))
    finally:
        client.close()
    elapsed = time.perf_counter() - started
    return Result(
        requests=len(client.latencies),
        http_requests=client.http_requests,
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
