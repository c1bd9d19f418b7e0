"""Benchmark: a synchronous Redis rate-limit storage against the asyncio one the gateway uses.

Run with `make bench` (or `uv run python -m bench.redis_limiter [--duration S] [--rounds N]`).
slowapi calls `limits`' synchronous storage from the async request path; the gateway
uses `limits`' asyncio storage instead. This measures what the difference costs the
event loop. In one run, on one throwaway database, it starts two gateways on
loopback, both counting in Redis (`--redis-url`, database 15 by default):

- async (the baseline): the gateway as it is, asyncio Redis storage;
- blocking: the same gateway whose limiter calls the synchronous `RedisStorage` and
  strategy in the request path (`bench.serve gateway-blocking-redis`).

A load generator process drives each with the governed `GET /v1/invoices/{id}`,
alternating rounds: `--concurrency` in flight (saturated throughput), then an open
loop at `--load` times the async gateway's saturated throughput (latency at a rate
both can serve). Inside each server a probe measures event-loop lag (how late
`asyncio.sleep(0.01)` wakes up), and the limiter's storage time per request is
summed: loop-blocking in the blocking variant, awaited (the loop serves others) in
the async one. It prints the table and the verdict, appends a dated section with the
command to `bench/RESULTS.md`, and cleans its keys out of Redis. If Redis is
unreachable it prints a note and exits 0 without measuring.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.console import Console

from bench.harness import (
    Database,
    Measured,
    Server,
    add_load_options,
    append_results,
    clear_limits_keys,
    host_line,
    issue_token,
    markdown_table,
    measure,
    redis_unreachable,
    register_invoices,
    rich_table,
    running,
    scratch_directory,
    throwaway_database,
)
from bench.loadgen import Plan, gets

OPEN_LOOP_IN_FLIGHT = 64
# The sync cost "shows" when, against async at the same load, it loses at least this much
# saturated throughput, or its p99 latency or p99 loop lag grows by at least this factor.
THROUGHPUT_LOSS = 0.05
P99_GROWTH = 1.25


@dataclass
class Pair:
    name: str
    asynchronous: Measured
    blocking: Measured

    @property
    def throughput_ratio(self) -> float:
        return self.blocking.throughput / self.asynchronous.throughput

    @property
    def p99_ratio(self) -> float:
        return self.blocking.latency(99) / self.asynchronous.latency(99)

    @property
    def lag_p99_ratio(self) -> float:
        return self.blocking.lag(99) / self.asynchronous.lag(99)


def measure_pair(
    name: str,
    servers: tuple[Server, Server],
    plan_for: dict[Server, Plan],
    rounds: int,
) -> Pair:
    pair = Pair(name, Measured(), Measured())
    order = [(servers[0], pair.asynchronous), (servers[1], pair.blocking)]
    for round_ in range(rounds):
        for server, into in order if round_ % 2 == 0 else reversed(order):
            measure(server, plan_for[server], into)
    return pair


def run(
    asynchronous: Server, blocking: Server, args: argparse.Namespace
) -> tuple[list[Pair], list[str]]:
    with running([asynchronous, blocking]):
        writer = issue_token(asynchronous, "invoices:write")
        ids = register_invoices(asynchronous, writer, args.invoices)
        token = issue_token(asynchronous, "invoices:read")
        servers = (asynchronous, blocking)

        def plan(server: Server, concurrency: int, rate: float | None = None) -> Plan:
            return Plan(
                units=gets(f"{server.base_url}/v1/invoices/{i}" for i in ids),
                headers={"Authorization": f"Bearer {token}"},
                concurrency=concurrency,
                duration=args.duration,
                max_requests=args.max_requests,
                rate=rate,
            )

        problems = []
        for server in servers:
            warmup = Measured()
            measure(server, plan(server, args.concurrency), warmup)
            if warmup.errors or not warmup.storage_seconds:
                problems.append(
                    f"{server.kind} warm-up: {warmup.errors} errors, "
                    f"{warmup.storage_seconds:.3f} s in the limiter's storage"
                )
        if problems:
            return [], problems

        saturated = measure_pair(
            f"{args.concurrency} in flight",
            servers,
            {s: plan(s, args.concurrency) for s in servers},
            args.rounds,
        )
        rate = round(saturated.asynchronous.throughput * args.load)
        steady = measure_pair(
            f"open loop, {rate} req/s",
            servers,
            {s: plan(s, OPEN_LOOP_IN_FLIGHT, rate) for s in servers},
            args.rounds,
        )
        pairs = [saturated, steady]
        errors = sum(p.asynchronous.errors + p.blocking.errors for p in pairs)
        if errors:
            problems.append(f"{errors} requests failed (see the table)")
        return pairs, problems


def verdict(pairs: list[Pair]) -> tuple[bool, list[str]]:
    saturated, steady = pairs
    signs = []
    if saturated.throughput_ratio <= 1 - THROUGHPUT_LOSS:
        signs.append(f"saturated throughput {saturated.throughput_ratio:.2f}x")
    for pair in pairs:
        if pair.p99_ratio >= P99_GROWTH:
            signs.append(f"{pair.name}: p99 latency {pair.p99_ratio:.2f}x")
        if pair.lag_p99_ratio >= P99_GROWTH:
            signs.append(f"{pair.name}: p99 loop lag {pair.lag_p99_ratio:.2f}x")
    blocked = steady.blocking.storage_us_per_request
    facts = [
        f"blocking storage held the loop {blocked:.0f} µs per request "
        f"({blocked * steady.blocking.throughput / 1e4:.1f}% of each second at "
        f"{steady.blocking.throughput:.0f} req/s); the async storage was awaited "
        f"{steady.asynchronous.storage_us_per_request:.0f} µs per request without holding it",
    ]
    return bool(signs), signs + facts


ROW_NAMES = (("async (gateway)", "asynchronous"), ("blocking", "blocking"))
COLUMNS = (
    "load",
    "limiter storage",
    "requests",
    "errors",
    "req/s",
    "p50 ms",
    "p99 ms",
    "lag p50 ms",
    "lag p99 ms",
    "storage µs/req",
)


def rows(pairs: list[Pair]) -> list[list[str]]:
    result = []
    for pair in pairs:
        for label, attribute in ROW_NAMES:
            m: Measured = getattr(pair, attribute)
            result.append(
                [
                    pair.name,
                    label,
                    str(m.requests),
                    str(m.errors),
                    f"{m.throughput:.0f}",
                    f"{m.latency(50):.2f}",
                    f"{m.latency(99):.2f}",
                    f"{m.lag(50):.2f}",
                    f"{m.lag(99):.2f}",
                    f"{m.storage_us_per_request:.0f}",
                ]
            )
    return result


def ratio_lines(pairs: list[Pair]) -> list[str]:
    return [
        f"{p.name}: blocking/async throughput {p.throughput_ratio:.2f}, p99 latency "
        f"{p.p99_ratio:.2f}x, p99 loop lag {p.lag_p99_ratio:.2f}x"
        for p in pairs
    ]


def section(command: str, database: Database, args: argparse.Namespace, pairs: list[Pair]) -> str:
    shows, reasons = verdict(pairs)
    table = markdown_table(COLUMNS, rows(pairs))
    return (
        f"## Rate-limit storage: blocking vs asyncio Redis (`bench/redis_limiter.py`), "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
        f"Command: `{command}` (via `make bench`). The governed `GET /v1/invoices/{{id}}` on two "
        f"gateways counting in Redis at `{args.redis_url}`: `limits`' asyncio storage (the "
        f"gateway's) against its synchronous storage called from the request path (as "
        f"slowapi does); uvicorn processes on loopback, load from a separate `bench.loadgen` "
        f"process, {args.rounds} alternating rounds of {args.duration:g} s per server and "
        f"load, over {args.invoices} invoices. Lag: how late `asyncio.sleep(0.01)` wakes inside "
        f"the server (uvloop timers tick in whole milliseconds). Storage µs/req: time in the "
        f"limiter's storage calls, blocking the loop (blocking) or awaited (async). "
        f"Database: {database.description}. Host: {host_line()}.\n\n"
        + table
        + "\n"
        + "".join(f"- {line}\n" for line in ratio_lines(pairs))
        + f"- verdict: the synchronous storage's cost **{'shows' if shows else 'does not show'}**"
        f" (threshold: ≥{THROUGHPUT_LOSS:.0%} less saturated throughput, or p99 latency or "
        f"loop lag ×{P99_GROWTH}); " + "; ".join(reasons) + "\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    add_load_options(parser, rounds=4)
    parser.add_argument(
        "--load", type=float, default=0.6, help="open-loop rate, share of async saturation"
    )
    args = parser.parse_args()
    command = " ".join(["python -m bench.redis_limiter", *sys.argv[1:]])
    console = Console(width=max(Console().width, 132))

    unreachable = redis_unreachable(args.redis_url)
    if unreachable is not None:
        console.print(
            f"[yellow]note: Redis unreachable at {args.redis_url} ({unreachable}); "
            "the rate-limit storage benchmark is skipped[/]"
        )
        return 0

    clear_limits_keys(args.redis_url)
    try:
        with scratch_directory() as scratch, throwaway_database(scratch) as database:
            storage = {"LEDGERGATE_RATE_LIMIT_STORAGE_URL": args.redis_url}
            asynchronous = Server("gateway", database, scratch, **storage)
            blocking = Server("gateway-blocking-redis", database, scratch, **storage)
            pairs, problems = run(asynchronous, blocking, args)
    finally:
        clear_limits_keys(args.redis_url)

    for problem in problems:
        console.print(f"[red]{problem}[/]")
    if not pairs:
        return 1
    table = rich_table(
        f"Rate-limit storage in Redis: blocking vs async ({database.description})",
        COLUMNS,
        rows(pairs),
    )
    console.print(table)
    for line in ratio_lines(pairs):
        console.print(line)
    shows, reasons = verdict(pairs)
    console.print(
        f"[bold]the synchronous storage's cost {'shows' if shows else 'does not show'}[/]: "
        + "; ".join(reasons)
    )
    append_results(section(command, database, args, pairs))
    console.print("section appended to bench/RESULTS.md")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
