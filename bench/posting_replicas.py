"""Benchmark: two gateway replicas and two worker processes never exceed the ERP's limit.

Run with `uv run python -m bench.posting_replicas [--batch-invoices N] [--live-invoices M]
[--window-seconds W] [--requests-per-window R] [--timeout S]`. One throwaway database
(PostgreSQL on 127.0.0.1:5432, else SQLite), the rate limits and the ERP budget in Redis
(else in that database), and one Business Central sandbox process enforcing a small window
(R requests per W seconds, a `$batch` one request as Business Central counts it, 5
concurrent requests). Four gateway processes share them:
two serving the API (the replicas) and two running only the background work (the
workers: queued retries, abandoned batches), each configured with the sandbox's limits.
`--budget-factor 2` configures them with twice the limits instead, as a misconfigured
or shared ERP account would be: the ERP itself then refuses what is over, and the run
shows that those refusals were answered `429`, never served, and retried.

The billing run's N invoices go to the replicas as two posting batches (one to each),
while M live postings are made one at a time through `POST /v1/invoices/{id}/postings`,
alternating between the replicas. A live posting the budget cannot serve now is queued
(`202`) and a worker posts it. When every invoice is posted (or `--timeout` passes) the
sandbox's own counters say what it served and refused: its peak requests in one window
and its peak concurrent requests (never over the limits: a request over them is answered
`429` with `Retry-After`, not served), the `429`s, and the documents sent twice (0). The
run prints and appends a section to `bench/RESULTS.md`; it exits 1 when an invoice was
lost or sent twice, or a limit was passed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any, TypedDict

import httpx
from rich.console import Console

from bench.harness import (
    Database,
    Server,
    append_results,
    host_line,
    issue_token,
    markdown_table,
    rate_limit_storage,
    scratch_directory,
    seed_invoices,
    throwaway_database,
)
from bench.posting import ERP_API
from bench.posting_batches import posted_count
from sandboxes.limits import LIMITS_PATH

CONCURRENT_REQUESTS = 5
POLL_SECONDS = 1.0


class ErpEnv(TypedDict):
    """A gateway's ERP environment: named keys, so none can stand for `Server`'s own arguments."""

    LEDGERGATE_ERP__URL: str
    LEDGERGATE_ERP__REQUESTS_PER_WINDOW: str
    LEDGERGATE_ERP__WINDOW_SECONDS: str
    LEDGERGATE_ERP__MAX_CONCURRENT_REQUESTS: str
    LEDGERGATE_RATE_LIMIT_STORAGE_URL: str


def erp_env(sandbox: Server, args: argparse.Namespace, storage_url: str) -> ErpEnv:
    """The gateway's ERP at the sandbox, with the sandbox's limits (times
    `--budget-factor`) as its budget."""
    factor = args.budget_factor
    return {
        "LEDGERGATE_ERP__URL": sandbox.base_url + ERP_API,
        "LEDGERGATE_ERP__REQUESTS_PER_WINDOW": str(round(args.requests_per_window * factor)),
        "LEDGERGATE_ERP__WINDOW_SECONDS": str(args.window_seconds),
        "LEDGERGATE_ERP__MAX_CONCURRENT_REQUESTS": str(round(CONCURRENT_REQUESTS * factor)),
        "LEDGERGATE_RATE_LIMIT_STORAGE_URL": storage_url,
    }


def start_estate(
    database: Database, scratch: Path, args: argparse.Namespace, storage_url: str
) -> tuple[Server, list[Server], list[Server]]:
    limits = {
        "requests_per_window": args.requests_per_window,
        "window_seconds": args.window_seconds,
        "max_concurrent_requests": CONCURRENT_REQUESTS,
    }
    sandbox = Server(
        "erp-sandbox", database, scratch, LEDGERGATE_SANDBOX_LIMITS_ERP=json.dumps(limits)
    )
    sandbox.start()
    env = erp_env(sandbox, args, storage_url)
    replicas = [Server("gateway", database, scratch, **env) for _ in range(2)]
    workers = [
        Server(
            "gateway",
            database,
            scratch,
            LEDGERGATE_BACKGROUND_WORK="true",
            LEDGERGATE_WORKER_INTERVAL_SECONDS="1",
            **env,
        )
        for _ in range(2)
    ]
    for server in replicas + workers:
        server.start()
    return sandbox, replicas, workers


async def drive(
    replicas: list[Server], batch_ids: list[str], live_ids: list[str]
) -> dict[str, int]:
    """The billing run as one batch per replica, and the live postings alternating between
    them, at once; the status codes the live postings were answered."""
    token = issue_token(replicas[0], "invoices:post invoices:read")
    clients = [
        httpx.AsyncClient(
            base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=120
        )
        for server in replicas
    ]
    statuses: dict[str, int] = {}

    async def billing_run() -> None:
        half = len(batch_ids) // 2
        for client, ids, key in zip(
            clients, (batch_ids[:half], batch_ids[half:]), ("run-a", "run-b"), strict=True
        ):
            answer = await client.post(
                "/v1/posting-batches", json={"invoice_ids": ids}, headers={"Idempotency-Key": key}
            )
            answer.raise_for_status()

    async def live() -> None:
        for n, invoice_id in enumerate(live_ids):
            answer = await clients[n % 2].post(
                f"/v1/invoices/{invoice_id}/postings",
                json={},
                headers={"Idempotency-Key": f"live-{invoice_id}"},
            )
            statuses[str(answer.status_code)] = statuses.get(str(answer.status_code), 0) + 1

    try:
        await asyncio.gather(billing_run(), live())
    finally:
        for client in clients:
            await client.aclose()
    return statuses


def wait_posted(database: Database, ids: list[str], timeout: float) -> tuple[int, float]:
    """How many of `ids` are posted once all are (or `timeout` passed), and when."""
    started = time.monotonic()
    posted = 0
    while time.monotonic() - started < timeout:
        posted = asyncio.run(posted_count(database, ids))
        if posted == len(ids):
            break
        time.sleep(POLL_SECONDS)
    return posted, time.monotonic() - started


def sandbox_counters(sandbox: Server) -> tuple[dict[str, Any], int]:
    """The sandbox's limit counters, and the documents it was asked to create twice."""
    limits = httpx.get(sandbox.base_url + LIMITS_PATH, timeout=10).json()
    repeated = httpx.get(sandbox.base_url + "/_sandbox/repeated-creates", timeout=10).json()
    return limits, sum(repeated.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-invoices", type=int, default=120)
    parser.add_argument("--live-invoices", type=int, default=30)
    parser.add_argument("--window-seconds", type=float, default=6.0)
    parser.add_argument("--requests-per-window", type=int, default=60)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument(
        "--budget-factor",
        type=float,
        default=1.0,
        help="the gateways' budget as a multiple of the sandbox's limits: above 1 they "
        "believe the ERP allows more than it does, so it must refuse them with 429s",
    )
    args = parser.parse_args()
    command = " ".join(["python -m bench.posting_replicas", *sys.argv[1:]])
    console = Console(width=120)
    with (
        scratch_directory() as scratch,
        throwaway_database(scratch) as database,
        rate_limit_storage() as (storage_url, storage),
    ):
        ids = seed_invoices(database, args.batch_invoices + args.live_invoices, date.today())
        batch_ids, live_ids = ids[: args.batch_invoices], ids[args.batch_invoices :]
        sandbox, replicas, workers = start_estate(database, scratch, args, storage_url)
        try:
            started = time.monotonic()
            statuses = asyncio.run(drive(replicas, batch_ids, live_ids))
            posted, _ = wait_posted(database, ids, args.timeout)
            seconds = time.monotonic() - started
            limits, repeated = sandbox_counters(sandbox)
        finally:
            for server in [*replicas, *workers, sandbox]:
                server.stop()
    window_limit = args.requests_per_window
    kept = (
        limits["peak_in_window"] <= window_limit
        and limits["peak_concurrent"] <= CONCURRENT_REQUESTS
    )
    refused = limits["refused"]
    row = [
        str(len(ids)),
        f"{seconds:.1f}",
        str(posted),
        str(len(ids) - posted),
        str(repeated),
        str(limits["served"]),
        str(limits["batches"]),
        f"{refused['window']} + {refused['concurrency']}",
        f"{limits['peak_in_window']} / {window_limit}",
        f"{limits['peak_concurrent']} / {CONCURRENT_REQUESTS}",
        ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items())),
    ]
    columns = [
        "invoices",
        "s",
        "posted",
        "lost",
        "sent twice",
        "ERP ops served",
        "$batch requests",
        "429s (window + concurrency)",
        "peak requests in a window / limit",
        "peak concurrent / limit",
        "live postings answered",
    ]
    ok = kept and posted == len(ids) and repeated == 0
    verdict = (
        f"limits kept: {'yes' if kept else 'NO'} · every invoice posted once: "
        f"{'yes' if posted == len(ids) and repeated == 0 else 'NO'}"
    )
    table = markdown_table(columns, [row])
    console.print(table)
    console.print(verdict)
    append_results(
        f"## Two gateway replicas and two workers at the ERP's limit "
        f"(`bench/posting_replicas.py`), {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC\n\n"
        f"`uv run {command}` — {host_line()}. {database.description}; rate limits and the "
        f"ERP budget: {storage}. The Business Central sandbox in its own process at "
        f"{window_limit} requests per {args.window_seconds:g} s (sliding) and "
        f"{CONCURRENT_REQUESTS} concurrent requests; two gateway processes serving the API "
        f"and two running only the background work, all with {args.budget_factor:g} x "
        f"those limits as their shared budget. {args.batch_invoices} invoices as two "
        f"posting batches (one per replica) "
        f"while {args.live_invoices} are posted live, one at a time, alternating replicas.\n\n"
        f"{table}\n{verdict}\n"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
