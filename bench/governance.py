"""Benchmark: what edge governance costs a governed read, against the same read ungoverned.

Run with `make bench` (or `uv run python -m bench.governance [--duration S] [--rounds N]
[--workers W]`). In one run, on one throwaway database (PostgreSQL on 127.0.0.1:5432,
else SQLite), it starts two uvicorn servers on loopback, each with `--workers` worker
processes (2 by default, one per CPU of the reference host, as production runs them):

- governed: the gateway (`bench.serve gateway`), answering `GET /v1/invoices/{id}`
  through token verification, the `invoices:read` scope check, the per-client rate
  limit (in Redis when it is reachable, as workers and replicas share their counts,
  else in memory; limits raised so nothing is refused, every request still counted),
  metrics, security and rate-limit headers, correlation id and its request log line;
  reads are not audited;
- bare (the baseline): `bench.serve bare`, the same handler and query with no
  middleware and no dependencies.

After checking both answer the same body, a load generator process
(`bench.loadgen`) drives each in turn, alternating rounds: one request at a time
(the per-request cost) and `--concurrency` in flight (saturated throughput). It
prints throughput, p50/p99 latency and errors with governed/bare ratios and each
server's peak RSS per process after the load, appends a dated section with the
command to `bench/RESULTS.md`, and exits 1 if any request failed or the servers
disagreed.

It also prints, per load, the CPU seconds the server side spent per request
(`bench.server_cpu`): each server's processes (`/proc`, the workers included) and, for
the governed one, the share of the Redis server's CPU its rate-limit calls caused
(`INFO cpu`, less Redis's background rate in the adjacent bare round), with the median
of the rounds' bare/governed ratios. On a shared host the throughput ratio swings with
the others' load (0.64 to 1.24 from one run to the next on the 2-core reference host);
the CPU the server side spends per request is what the governed read costs, whatever
the wait for a CPU, and the host's load moves it less (0.66 to 0.90 there: contention
still stretches the CPU time of the same work; `bench.edge_instructions` counts
instructions, which it does not move). Where the workers' CPU is the bottleneck the ratio
is the governed throughput's share of the bare one.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

import httpx
from rich.console import Console
from rich.table import Table

from bench.harness import (
    Database,
    Measured,
    Server,
    add_load_options,
    append_results,
    host_line,
    issue_token,
    measure,
    memory_line,
    rate_limit_storage,
    redis_seconds,
    register_invoices,
    running,
    scratch_directory,
    throwaway_database,
)
from bench.loadgen import Plan, gets
from bench.server_cpu import (
    CpuMeter,
    CpuPair,
    CpuRound,
    median_of,
)

GOVERNED_HEADERS = ("ratelimit", "x-content-type-options", "x-correlation-id", "cache-control")


@dataclass(frozen=True)
class Scenario:
    name: str
    concurrency: int


@dataclass
class Outcome:
    scenario: Scenario
    bare: Measured
    governed: Measured
    cpu: list[CpuPair] = field(default_factory=list)

    @property
    def throughput_ratio(self) -> float:
        return self.governed.throughput / self.bare.throughput

    @property
    def p99_ratio(self) -> float:
        return self.governed.latency(99) / self.bare.latency(99)

    @property
    def p50_added_ms(self) -> float:
        return self.governed.latency(50) - self.bare.latency(50)


def check_same_read(gateway: Server, bare: Server, token: str, invoice_id: str) -> list[str]:
    """Both servers give the same invoice; only the gateway governs (headers, 401 without token)."""
    path = f"/v1/invoices/{invoice_id}"
    governed = httpx.get(
        gateway.base_url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    plain = httpx.get(bare.base_url + path, timeout=10)
    anonymous = httpx.get(gateway.base_url + path, timeout=10)
    problems = []
    if governed.status_code != 200 or plain.status_code != 200:
        problems.append(f"reads answered {governed.status_code} and {plain.status_code}")
    elif governed.json() != plain.json():
        problems.append("the governed and bare reads returned different bodies")
    missing = [name for name in GOVERNED_HEADERS if name not in governed.headers]
    if missing:
        problems.append(f"the governed read lacks {missing}")
    if any(name in plain.headers for name in GOVERNED_HEADERS):
        problems.append("the bare read carries governance headers")
    if anonymous.status_code != 401:
        problems.append(f"the governed read without a token answered {anonymous.status_code}")
    return problems


@dataclass
class Run:
    outcomes: list[Outcome]
    problems: list[str]
    memory: list[str]


def answered(server: Server, load: Plan, into: Measured) -> int:
    """One round of `load` against `server` (into `into`): the requests it answered."""
    return measure(server, load, into).requests


def run(gateway: Server, bare: Server, storage_url: str, args: argparse.Namespace) -> Run:
    with running([gateway, bare]):
        writer = issue_token(gateway, "invoices:write", gateway.database.platform_client)
        ids = register_invoices(gateway, writer, args.invoices)
        token = issue_token(gateway, "invoices:read", gateway.database.platform_client)
        problems = check_same_read(gateway, bare, token, ids[0])
        if problems:
            return Run([], problems, [])

        def plan(server: Server, concurrency: int, duration: float) -> Plan:
            headers = {"Authorization": f"Bearer {token}"} if server is gateway else {}
            return Plan(
                units=gets(f"{server.base_url}/v1/invoices/{i}" for i in ids),
                headers=headers,
                concurrency=concurrency,
                duration=duration,
                max_requests=args.max_requests,
            )

        warmup = Measured()
        for server in (bare, gateway):
            measure(server, plan(server, args.concurrency, 1.0), warmup)

        redis_cpu = redis_seconds(storage_url)
        meters = {
            gateway: CpuMeter(gateway.cpu_seconds, bare.cpu_seconds, redis_cpu),
            bare: CpuMeter(bare.cpu_seconds, gateway.cpu_seconds, redis_cpu),
        }
        outcomes = []
        for scenario in (
            Scenario("one at a time", 1),
            Scenario(f"{args.concurrency} in flight", args.concurrency),
        ):
            outcome = Outcome(scenario, Measured(), Measured())
            for round_ in range(args.rounds):
                order = [(bare, outcome.bare), (gateway, outcome.governed)]
                cost: dict[Server, CpuRound] = {}
                for server, into in order if round_ % 2 == 0 else reversed(order):
                    load = plan(server, scenario.concurrency, args.duration)
                    cost[server] = meters[server].round(partial(answered, server, load, into))
                outcome.cpu.append(CpuPair(governed=cost[gateway], bare=cost[bare]))
            outcomes.append(outcome)
        errors = warmup.errors + sum(o.bare.errors + o.governed.errors for o in outcomes)
        if errors:
            problems.append(f"{errors} requests failed (see the table)")
        return Run(outcomes, problems, [memory_line(gateway), memory_line(bare)])


def table(outcomes: list[Outcome], title: str) -> Table:
    result = Table(title=title)
    for column in ("load", "server", "requests", "errors", "req/s", "p50 ms", "p99 ms"):
        result.add_column(column, justify="left" if column in ("load", "server") else "right")
    for outcome in outcomes:
        for name, measured in (("bare", outcome.bare), ("governed", outcome.governed)):
            result.add_row(
                outcome.scenario.name,
                name,
                str(measured.requests),
                str(measured.errors),
                f"{measured.throughput:.0f}",
                f"{measured.latency(50):.2f}",
                f"{measured.latency(99):.2f}",
            )
    return result


def ratio_lines(outcomes: list[Outcome]) -> list[str]:
    return [
        f"{o.scenario.name}: governed/bare throughput {o.throughput_ratio:.2f}, "
        f"p99 {o.p99_ratio:.2f}x, p50 +{o.p50_added_ms:.2f} ms"
        for o in outcomes
    ] + [cpu_line(o) for o in outcomes]


def cpu_line(outcome: Outcome) -> str:
    """The server side's CPU per request, governed against bare (medians of the rounds)."""
    pairs = outcome.cpu
    bare = median_of(pairs, lambda p: p.bare_per_request) * 1e6
    governed = median_of(pairs, lambda p: p.governed_per_request) * 1e6
    redis_part = median_of(pairs, lambda p: p.redis_share / p.governed.requests) * 1e6
    ratio = median_of(pairs, lambda p: p.ratio)
    gross = median_of(pairs, lambda p: p.gross_ratio)
    return (
        f"{outcome.scenario.name}: server CPU per request bare {bare:.0f} µs, governed "
        f"{governed:.0f} µs (Redis's share {redis_part:.0f} µs); bare/governed CPU per "
        f"request {ratio:.3f}, {gross:.3f} with idle work and Redis's other clients "
        f"(medians of {len(pairs)} rounds' pairs)"
    )


def section(
    command: str, database: Database, storage: str, args: argparse.Namespace, result: Run
) -> str:
    outcomes = result.outcomes
    rows = "".join(
        f"| {o.scenario.name} | {name} | {m.requests} | {m.errors} | {m.throughput:.0f} "
        f"| {m.latency(50):.2f} | {m.latency(99):.2f} |\n"
        for o in outcomes
        for name, m in (("bare", o.bare), ("governed", o.governed))
    )
    ratios = "".join(f"- {line}\n" for line in ratio_lines(outcomes))
    return (
        f"## Edge governance (`bench/governance.py`), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
        f"Command: `{command}` (via `make bench`). `GET /v1/invoices/{{id}}` governed (token, "
        f"scope, rate limit in {storage}, metrics, headers, correlation id and request log; "
        f"reads not audited) against the same handler and query bare, each uvicorn with "
        f"{args.workers} worker{'s' if args.workers > 1 else ''} on loopback; load from a "
        f"separate `bench.loadgen` process, {args.rounds} alternating rounds of "
        f"{args.duration:g} s per server and load, over {args.invoices} invoices. "
        f"Database: {database.description}. Host: {host_line()}.\n\n"
        "| load | server | requests | errors | req/s | p50 ms | p99 ms |\n"
        "| --- | --- | --- | --- | --- | --- | --- |\n"
        + rows
        + "\n"
        + ratios
        + "".join(f"- peak RSS after the load, {line}\n" for line in result.memory)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_load_options(parser, rounds=4)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers per server")
    args = parser.parse_args()
    command = " ".join(["python -m bench.governance", *sys.argv[1:]])
    console = Console(width=max(Console().width, 100))

    with (
        scratch_directory() as scratch,
        throwaway_database(scratch) as database,
        rate_limit_storage() as (storage_url, storage),
    ):
        gateway = Server(
            "gateway",
            database,
            scratch,
            workers=args.workers,
            LEDGERGATE_RATE_LIMIT_STORAGE_URL=storage_url,
        )
        bare = Server("bare", database, scratch, workers=args.workers)
        result = run(gateway, bare, storage_url, args)

    outcomes, problems = result.outcomes, result.problems
    for problem in problems:
        console.print(f"[red]{problem}[/]")
    if not outcomes:
        return 1
    console.print(
        table(outcomes, f"Governed vs bare GET /v1/invoices/{{id}} ({database.description})")
    )
    for line in ratio_lines(outcomes) + result.memory:
        console.print(line)
    append_results(section(command, database, storage, args, result))
    console.print("section appended to bench/RESULTS.md")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
