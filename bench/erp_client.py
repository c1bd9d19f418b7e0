"""Benchmark: the Python work one ERP request costs the gateway, against httpx called directly.

Run with `uv run python -m bench.erp_client [--requests N] [--rounds R]`. It starts the
Business Central sandbox in its own process (`bench.serve erp-sandbox`) on loopback, so
the sandbox's work is not counted, and sends in this process, one at a time, the two
requests of a synchronous posting's kinds: a `GET` (a customer lookup) and a `POST` of a
`$batch` with a JSON body (two reads, so the sandbox's ledger does not grow):

- direct (the baseline): a bare `httpx.AsyncClient` on httpx's own network transport
  (httpcore's pool), as a client without `system_apis.keepalive` would send;
- client: `ResilientClient.request` (retries, timeouts, circuit breaker, metrics,
  correlation header, error mapping) without an ERP budget;
- client + budget: the same with the connection's budget in Redis (one acquire a request,
  the release riding the next), as a gateway with Redis runs it (left out when
  `LEDGERGATE_BENCH_REDIS_URL`, default `redis://127.0.0.1:6379/15`, cannot be reached).

Per path it prints the Python function calls per request (cProfile, one profiled round),
the round trips to the budget's store per request (acquires and releases counted over one
more round), and the CPU time per request (`time.process_time`, unprofiled, rounds alternated across
the paths so load moves them alike), and the ratio to the direct path. Neither number
depends on the host's load the way wall-clock latency does. With `--profile PATH` it also
prints the profiled round's top functions by own time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import httpx
from rich.console import Console

from bench.harness import (
    REDIS_URL,
    Database,
    Server,
    append_results,
    host_line,
    markdown_table,
    redis_unreachable,
    rich_table,
    running,
    scratch_directory,
)
from core.context import correlation_id
from core.settings import ErpSettings
from sandboxes.business_central import API_ROOT
from sandboxes.demo_estate import DEMO_COMPANIES
from system_apis.budget import Acquire, Admission, ErpBudget, Released
from system_apis.budget_redis import RedisBudgetStore
from system_apis.erp.adapters.business_central_base import decode_bc_error
from system_apis.http import ResilientClient, public_tls

COMPANY = DEMO_COMPANIES[0]
CUSTOMERS = f"/companies({COMPANY.id})/customers?$filter=number%20eq%20%27C-1%27"
BATCH = {
    "requests": [{"id": str(n), "method": "GET", "url": f"companies({COMPANY.id})"} for n in (1, 2)]
}
HEADERS = {"Authorization": "Bearer sandbox-token"}
WARMUP = 50

Send = Callable[[], Awaitable[None]]


@dataclass
class Path:
    name: str
    send: Send
    cpu_seconds: list[float] = field(default_factory=list)
    calls: int = 0
    requests: int = 0
    round_trips: int | None = None
    """To the budget's store, over `requests` (None: no budget)."""

    def cpu_per_request_us(self) -> float:
        return statistics.median(self.cpu_seconds) * 1e6

    def calls_per_request(self) -> float:
        return self.calls / self.requests


async def timed(send: Send, requests: int) -> float:
    """CPU seconds per request over `requests` (two requests per `send`)."""
    started = time.process_time()
    for _ in range(requests // 2):
        await send()
    return (time.process_time() - started) / requests


async def profiled(send: Send, requests: int) -> tuple[int, pstats.Stats]:
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(requests // 2):
        await send()
    profile.disable()
    stats = pstats.Stats(profile)
    return int(stats.total_calls), stats  # type: ignore[attr-defined]


async def store_round_trips(store: RedisBudgetStore, send: Send, requests: int) -> int:
    """The acquires and releases `requests` requests make to the budget's store (counted
    on the instance for this round only, so the profiled and timed rounds run without it)."""
    counted = [0]
    acquire, release = store.acquire, store.release

    async def counting_acquire(key: str, request: Acquire) -> Admission:
        counted[0] += 1
        return await acquire(key, request)

    async def counting_release(key: str, released: Sequence[Released]) -> None:
        counted[0] += 1
        await release(key, released)

    store.acquire, store.release = counting_acquire, counting_release  # type: ignore[method-assign]
    try:
        for _ in range(requests // 2):
            await send()
    finally:
        del store.acquire, store.release
    return counted[0]


async def run(
    base_url: str, requests: int, rounds: int, top: int, *, with_budget: bool
) -> list[Path]:
    settings = ErpSettings(url=base_url, requests_per_window=10**9, max_concurrent_requests=10**6)
    direct = httpx.AsyncClient(
        base_url=base_url,
        headers=HEADERS,
        transport=httpx.AsyncHTTPTransport(
            verify=public_tls(),
            limits=httpx.Limits(
                max_connections=settings.max_connections,
                max_keepalive_connections=settings.max_connections,
            ),
        ),
    )
    plain = ResilientClient(
        backend="erp-bench", base_url=base_url, settings=settings, headers=HEADERS
    )
    store = RedisBudgetStore(REDIS_URL)
    budget = ErpBudget(
        f"erp-bench-{uuid.uuid4().hex[:8]}",
        settings.limits,
        store,
        wait_seconds=settings.budget_wait_seconds,
        lease_seconds=settings.retry_budget_seconds + 5,
        fail_open=False,
    )
    budgeted = ResilientClient(
        backend="erp-bench-budget",
        base_url=base_url,
        settings=settings,
        headers=HEADERS,
        budget=budget,
    )

    async def send_direct() -> None:
        cid = correlation_id.get()
        headers = {"X-Correlation-ID": cid} if cid else None
        (await direct.get(CUSTOMERS, headers=headers)).raise_for_status()
        (await direct.post("/$batch", json=BATCH, headers=headers)).raise_for_status()

    def through(client: ResilientClient) -> Send:
        async def send() -> None:
            await client.request(
                "GET", CUSTOMERS, operation="find_customer", decode_error=decode_bc_error
            )
            await client.request(
                "POST",
                "/$batch",
                operation="post_sales_invoice",
                json_body=BATCH,
                decode_error=decode_bc_error,
                cost=2,
            )

        return send

    paths = [
        Path("direct (httpx)", send_direct),
        Path("client", through(plain)),
        Path("client + budget (Redis)", through(budgeted)),
    ][: 3 if with_budget else 2]
    token = correlation_id.set(uuid.uuid4().hex)
    try:
        for path in paths:
            await timed(path.send, WARMUP)
        for path in paths:
            path.calls, stats = await profiled(path.send, requests)
            path.requests = requests
            if top:
                Console().rule(f"{path.name}: top {top} by own time")
                stats.sort_stats("tottime").print_stats(top)
        if with_budget:
            paths[2].round_trips = await store_round_trips(store, paths[2].send, requests)
        for _ in range(rounds):
            for path in paths:
                path.cpu_seconds.append(await timed(path.send, requests))
    finally:
        correlation_id.reset(token)
        await direct.aclose()
        await plain.aclose()
        await budgeted.aclose()
        await store.aclose()
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=1000, help="requests per path a round")
    parser.add_argument("--rounds", type=int, default=5, help="alternated CPU-time rounds")
    parser.add_argument("--top", type=int, default=0, help="print the top N functions by path")
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()
    command = " ".join(["uv run python -m bench.erp_client", *sys.argv[1:]])
    host = host_line()
    with scratch_directory() as scratch:
        sandbox = Server("erp-sandbox", Database("sqlite+aiosqlite://", "unused"), scratch)
        with running([sandbox]):
            base_url = sandbox.base_url + API_ROOT.format(environment="sandbox")
            paths = asyncio.run(
                run(
                    base_url,
                    args.requests,
                    args.rounds,
                    args.top,
                    with_budget=redis_unreachable(REDIS_URL) is None,
                )
            )
    baseline = paths[0]
    columns = (
        "path",
        "Python calls / request",
        "store round trips / request",
        "CPU µs / request",
        "CPU vs direct",
    )
    rows = [
        (
            path.name,
            f"{path.calls_per_request():.0f}",
            "—" if path.round_trips is None else f"{path.round_trips / args.requests:.3f}",
            f"{path.cpu_per_request_us():.0f}",
            f"{path.cpu_per_request_us() / baseline.cpu_per_request_us():.2f}x",
        )
        for path in paths
    ]
    Console().print(rich_table("One ERP request, client process only", columns, rows))
    if not args.no_record:
        append_results(
            f"## One ERP request through the resilient client (`bench/erp_client.py`)\n\n"
            f"`{command}` — {host}. The sandbox in its own process over loopback; "
            f"a GET and a `$batch` POST alternately, one at a time; calls by cProfile over "
            f"{args.requests} requests, CPU the median of {args.rounds} alternated rounds.\n\n"
            + markdown_table(columns, rows)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
