"""What one governed read costs the gateway process, counted rather than timed.

`uv run python -m bench.edge_profile [--requests N] [--rounds R] [--profile FILE]`

In one process, on one throwaway database (as `bench.governance`: PostgreSQL, else
SQLite) and the Redis rate limiter (else memory), it builds the two apps
`bench.governance` serves, the gateway and the bare handler (`bench.serve`), and
calls each directly as an ASGI app with `GET /v1/invoices/{id}`, alternating rounds.
No HTTP server and no load generator share the CPU, so what is left is the apps' own
work; uvicorn's per-request cost, the same for both, is not in it (so the ratio here
is stricter than a served one). Per request it reports:

- CPU microseconds of this process (`time.process_time`, and the part of it in user
  mode, which instruction counts such as `bench.edge_instructions` see; the rest is the
  kernel's, for sockets and the event loop's waits): the bare/governed ratio is
  what the governed read's throughput would be, as a share of the bare one, if the
  workers' CPU were the bottleneck (overall, and the median of each round's pair, which
  a busy host's drift moves less);
- SQL statements sent and Redis commands sent (counts, independent of the host's load).

With `--profile FILE` the governed rounds also run under cProfile (stats saved to
FILE) and the functions with the largest own time are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
from redis.asyncio.connection import AbstractConnection
from sqlalchemy import event
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.types import Message

from bench.harness import (
    DEMO_CLIENT,
    host_line,
    in_process_gateway,
    invoice_body,
)


@dataclass
class Tally:
    """Counts of what the apps send to the database and to Redis."""

    statements: int = 0
    redis_commands: int = 0

    def install(self) -> None:
        def count_statement(*_: object) -> None:
            self.statements += 1

        event.listen(Engine, "before_cursor_execute", count_statement)
        # Every command any connection sends, the rate limits' packed script calls included.
        send = AbstractConnection.send_packed_command

        async def counted(connection: AbstractConnection, *args: Any, **options: Any) -> None:
            self.redis_commands += 1
            await send(connection, *args, **options)

        AbstractConnection.send_packed_command = counted  # type: ignore[method-assign,assignment]


@dataclass
class Side:
    name: str
    requests: int = 0
    cpu_seconds: float = 0.0
    user_seconds: float = 0.0  # of `cpu_seconds`, in user mode (the rest in the kernel)
    statements: int = 0
    redis_commands: int = 0
    statuses: set[int] = field(default_factory=set)
    round_cpu: list[float] = field(default_factory=list)  # CPU seconds per request, by round

    def per_request(self, value: float) -> float:
        return value / self.requests if self.requests else 0.0


def http_scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }


async def get(app: Starlette, path: str, headers: list[tuple[bytes, bytes]]) -> int:
    status = 0

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(http_scope(path, headers), receive, send)
    return status


async def round_of(
    side: Side,
    app: Starlette,
    paths: list[str],
    headers: list[tuple[bytes, bytes]],
    tally: Tally,
    count: int,
    profiler: cProfile.Profile | None,
) -> None:
    statements, commands = tally.statements, tally.redis_commands
    started, user = time.process_time(), os.times().user
    if profiler is not None:
        profiler.enable()
    for i in range(count):
        side.statuses.add(await get(app, paths[i % len(paths)], headers))
    if profiler is not None:
        profiler.disable()
    cpu = time.process_time() - started
    side.cpu_seconds += cpu
    side.user_seconds += os.times().user - user
    side.round_cpu.append(cpu / count)
    side.requests += count
    side.statements += tally.statements - statements
    side.redis_commands += tally.redis_commands - commands


async def prepare(gateway: Starlette, invoices: int) -> tuple[str, list[str]]:
    """A read token and invoices registered through the gateway."""
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:

        async def token(scope: str) -> str:
            response = await client.post(
                "/oauth/token",
                data={"grant_type": "client_credentials", "scope": scope},
                auth=DEMO_CLIENT,
            )
            response.raise_for_status()
            return str(response.json()["access_token"])

        writer = {"Authorization": f"Bearer {await token('invoices:write')}"}
        ids = []
        for _ in range(invoices):
            response = await client.post(
                "/v1/invoices", json=invoice_body(date.today()), headers=writer
            )
            response.raise_for_status()
            ids.append(response.json()["id"])
        return await token("invoices:read"), ids


Headers = list[tuple[bytes, bytes]]


@asynccontextmanager
async def started_apps(
    invoices: int,
) -> AsyncIterator[tuple[Starlette, Starlette, list[str], Headers]]:
    """The gateway and the bare app as served, started, with `invoices` invoices to read:
    (gateway, bare, the invoices' paths, a reading token's header)."""
    from app.governance.logging import configure_logging
    from bench import serve
    from core.settings import Settings

    settings = Settings()
    # Request log lines as served (JSON, one a request), written where they cost no terminal.
    stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115
    try:
        configure_logging(settings.log_level)
    finally:
        sys.stdout = stdout
    gateway = serve.gateway(settings, blocking_redis=False)
    bare = serve.bare(settings)
    async with AsyncExitStack() as stack:
        for app in (gateway, bare):
            await stack.enter_async_context(app.router.lifespan_context(app))
        token, ids = await prepare(gateway, invoices)
        paths = [f"/v1/invoices/{i}" for i in ids]
        yield gateway, bare, paths, [(b"authorization", f"Bearer {token}".encode())]


async def measure(args: argparse.Namespace) -> tuple[Side, Side]:
    tally = Tally()
    tally.install()
    profiler = cProfile.Profile() if args.profile else None
    async with started_apps(args.invoices) as (gateway, bare, paths, auth):
        governed, plain = Side("governed"), Side("bare")
        runs: list[Callable[[], Any]] = [
            lambda: round_of(governed, gateway, paths, auth, tally, args.requests, profiler),
            lambda: round_of(plain, bare, paths, [], tally, args.requests, None),
        ]
        for run in runs:  # warm-up: caches, pools, compiled statements
            await run()
        governed.__init__("governed")  # type: ignore[misc]
        plain.__init__("bare")  # type: ignore[misc]
        if profiler is not None:
            profiler = cProfile.Profile()
        for round_ in range(args.rounds):
            for run in runs if round_ % 2 == 0 else reversed(runs):
                await run()
    if profiler is not None:
        profiler.dump_stats(args.profile)
    return governed, plain


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds")
    parser.add_argument("--invoices", type=int, default=50, help="invoices to read in turn")
    parser.add_argument("--profile", help="cProfile the governed rounds into this file")
    args = parser.parse_args()
    with in_process_gateway() as (database, storage):
        try:
            import uvloop

            governed, plain = uvloop.run(measure(args))
        except ImportError:
            governed, plain = asyncio.run(measure(args))
    print(f"{database.description}; rate limits in {storage}; host {host_line()}")  # noqa: T201
    for side in (plain, governed):
        print(  # noqa: T201
            f"{side.name:9} {side.requests} requests, statuses {sorted(side.statuses)}: "
            f"{side.per_request(side.cpu_seconds) * 1e6:.0f} µs CPU "
            f"({side.per_request(side.user_seconds) * 1e6:.0f} µs of it in user mode), "
            f"{side.per_request(side.statements):.2f} SQL statements, "
            f"{side.per_request(side.redis_commands):.2f} Redis commands per request"
        )
    ratio = plain.per_request(plain.cpu_seconds) / governed.per_request(governed.cpu_seconds)
    by_round = statistics.median(
        b / g for b, g in zip(plain.round_cpu, governed.round_cpu, strict=True)
    )
    user_ratio = plain.per_request(plain.user_seconds) / governed.per_request(governed.user_seconds)
    print(f"bare/governed user-mode CPU per request: {user_ratio:.2f}")  # noqa: T201
    print(  # noqa: T201
        f"bare/governed CPU per request: {ratio:.2f} overall, {by_round:.2f} median of the "
        "rounds' ratios (each round's pair ran back to back: less of the host's drift)"
    )
    if args.profile:
        stats = pstats.Stats(args.profile, stream=sys.stdout)
        stats.sort_stats("tottime").print_stats(30)
    return 0 if plain.statuses == governed.statuses == {200} else 1


if __name__ == "__main__":
    sys.exit(main())
