"""Benchmark: an idempotent replay of a stored response, against a plain governed read.

Run with `make bench` (or `uv run python -m bench.replay [--duration S] [--rounds N]
[--workers W]`). In one run, on one throwaway database (PostgreSQL on 127.0.0.1:5432,
else SQLite), it starts the gateway (uvicorn with `--workers` workers, rate limits in
Redis when reachable) on loopback, registers `--invoices` invoices and posts each once
with its own `Idempotency-Key` (the ERP is the in-process sandbox: only these first
postings reach it). Then, from a separate load generator process, in alternating
rounds, one request at a time and `--concurrency` in flight:

- replay: `POST /v1/invoices/{id}/postings` again with the key already used, which
  the gateway answers from the stored response (`Idempotent-Replayed: true`) after
  authenticating the caller and matching the request's hash, without the workflow;
- read (the baseline): `GET /v1/invoices/{id}` of the same invoices, through the same edge.

After checking that a replay answers the first response's status and body, it prints
throughput, p50/p99 latency and errors with replay/read ratios, appends a dated section
with the command to `bench/RESULTS.md`, and exits 1 if any request failed.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import httpx
from rich.console import Console

from bench.harness import (
    Database,
    Measured,
    Server,
    add_load_options,
    alternate,
    append_results,
    host_line,
    issue_token,
    markdown_table,
    measure,
    rate_limit_storage,
    rich_table,
    running,
    scratch_directory,
    seed_invoices,
    throwaway_database,
)
from bench.loadgen import Plan, Step, Unit
from process_apis.idempotency import REPLAYED_HEADER


@dataclass
class Outcome:
    name: str
    concurrency: int
    replay: Measured = field(default_factory=Measured)
    read: Measured = field(default_factory=Measured)

    @property
    def throughput_ratio(self) -> float:
        return self.replay.throughput / self.read.throughput

    @property
    def p50_ratio(self) -> float:
        return self.replay.latency(50) / self.read.latency(50)

    @property
    def p99_ratio(self) -> float:
        return self.replay.latency(99) / self.read.latency(99)


def post_once(client: httpx.Client, invoice_id: str, key: str) -> httpx.Response:
    return client.post(
        f"/v1/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": key}
    )


def first_postings(gateway: Server, token: str, ids: list[str]) -> tuple[dict[str, str], list[str]]:
    """Post each invoice once with its own key; check that a repeat is replayed as it was."""
    keys = {invoice_id: str(uuid.uuid4()) for invoice_id in ids}
    problems = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=gateway.base_url, headers=headers, timeout=30) as client:
        first = {i: post_once(client, i, key) for i, key in keys.items()}
        failed = [i for i, response in first.items() if response.status_code != 201]
        if failed:
            problems.append(f"{len(failed)} first postings did not answer 201")
        again = post_once(client, ids[0], keys[ids[0]])
        if again.headers.get(REPLAYED_HEADER) != "true":
            problems.append("a repeat with the same key was not answered as a replay")
        if (again.status_code, again.json()) != (first[ids[0]].status_code, first[ids[0]].json()):
            problems.append("the replay differs from the first answer")
    return keys, problems


def run(
    gateway: Server, database: Database, args: argparse.Namespace
) -> tuple[list[Outcome], list[str]]:
    ids = seed_invoices(database, args.invoices, date.today())
    with running([gateway]):
        token = issue_token(gateway, "invoices:post invoices:read")
        keys, problems = first_postings(gateway, token, ids)
        if problems:
            return [], problems
        replays = [
            Unit(
                steps=[
                    Step(
                        method="POST",
                        url=f"{gateway.base_url}/v1/invoices/{i}/postings",
                        headers={"Idempotency-Key": key},
                        body="{}",
                        expect=[201],
                    )
                ]
            )
            for i, key in keys.items()
        ]
        reads = [Unit(steps=[Step(url=f"{gateway.base_url}/v1/invoices/{i}")]) for i in ids]

        def plan(units: list[Unit], concurrency: int, duration: float) -> Plan:
            return Plan(
                units=units,
                headers={"Authorization": f"Bearer {token}"},
                concurrency=concurrency,
                duration=duration,
                max_requests=args.max_requests,
            )

        warmup = Measured()
        for units in (replays, reads):
            measure(gateway, plan(units, args.concurrency, 1.0), warmup)
        outcomes = [
            Outcome("one at a time", 1),
            Outcome(f"{args.concurrency} in flight", args.concurrency),
        ]
        for outcome in outcomes:

            def replay(o: Outcome = outcome) -> None:
                measure(gateway, plan(replays, o.concurrency, args.duration), o.replay)

            def read(o: Outcome = outcome) -> None:
                measure(gateway, plan(reads, o.concurrency, args.duration), o.read)

            alternate(args.rounds, [replay, read])
    errors = warmup.errors + sum(o.replay.errors + o.read.errors for o in outcomes)
    if errors:
        problems.append(f"{errors} requests failed (see the table)")
    return outcomes, problems


COLUMNS = ("load", "request", "requests", "errors", "req/s", "p50 ms", "p99 ms")


def rows(outcomes: list[Outcome]) -> list[list[str]]:
    return [
        [
            o.name,
            label,
            str(m.requests),
            str(m.errors),
            f"{m.throughput:.0f}",
            f"{m.latency(50):.2f}",
            f"{m.latency(99):.2f}",
        ]
        for o in outcomes
        for label, m in (("replay", o.replay), ("read", o.read))
    ]


def ratio_lines(outcomes: list[Outcome]) -> list[str]:
    return [
        f"{o.name}: replay/read throughput {o.throughput_ratio:.2f}, p50 {o.p50_ratio:.2f}x, "
        f"p99 {o.p99_ratio:.2f}x"
        for o in outcomes
    ]


def section(
    command: str,
    database: Database,
    storage: str,
    args: argparse.Namespace,
    outcomes: list[Outcome],
) -> str:
    table = markdown_table(COLUMNS, rows(outcomes))
    return (
        f"## Idempotent replay vs governed read (`bench/replay.py`), "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
        f"Command: `{command}` (via `make bench`). Replay: `POST /v1/invoices/{{id}}/postings` "
        f"with the `Idempotency-Key` of the invoice's first posting, answered from the stored "
        f"response; read: `GET /v1/invoices/{{id}}`; both through the same gateway, uvicorn "
        f"with {args.workers} worker{'s' if args.workers > 1 else ''}, rate limits in {storage}, "
        f"over {args.invoices} posted invoices. Load from a separate `bench.loadgen` process, "
        f"{args.rounds} alternating rounds of {args.duration:g} s per request kind and load. "
        f"Database: {database.description}. Host: {host_line()}.\n\n"
        + table
        + "\n"
        + "".join(f"- {line}\n" for line in ratio_lines(outcomes))
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_load_options(parser, rounds=2, invoices="posted invoices to use in turn")
    parser.add_argument("--workers", type=int, default=2, help="the gateway's uvicorn workers")
    args = parser.parse_args()
    command = " ".join(["python -m bench.replay", *sys.argv[1:]])
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
        outcomes, problems = run(gateway, database, args)

    for problem in problems:
        console.print(f"[red]{problem}[/]")
    if not outcomes:
        return 1
    table = rich_table(
        f"Idempotent replay vs governed read ({database.description})", COLUMNS, rows(outcomes)
    )
    console.print(table)
    for line in ratio_lines(outcomes):
        console.print(line)
    append_results(section(command, database, storage, args, outcomes))
    console.print("section appended to bench/RESULTS.md")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
