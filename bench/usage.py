"""Usage ingestion into PostgreSQL: `python -m bench.usage` (also in `make bench`);
with `--aggregate 100000 300000`, the aggregation of one period instead
(`bench.usage_aggregation`).

A throwaway database (PostgreSQL, else SQLite) gets one metered subscription. The same
events are then written three ways, in batches of 1,000 from `--processes` processes
(as the gateway's workers), `--concurrency` batches at a time each, and timed from the
first process's start to the last one's end:

- the baseline: the bare INSERT of the finished rows with asyncpg (no validation, no
  de-duplication; on PostgreSQL the rows bound as one array per column), one statement
  per batch, as fast as the table takes them;
- ingestion: `UsageIngestion.ingest` exactly as `POST /v1/usage-events` and
  `ledgergate usage import` run it (pydantic validation of the batch in one pass, the
  stored-id lookup, the contract and period, one `INSERT ... ON CONFLICT DO NOTHING
  RETURNING` per batch);
- the same batches again, every event a duplicate;
- served: the same batches as a client sends them, `POST /v1/usage-events` to the
  gateway started as `ledgergate serve` does (`bench.serve gateway`, 2 uvicorn workers,
  bearer token of the demo platform client), each batch's JSON encoded before the clock
  starts; the rate limiter counts every request (in Redis when reachable) in tiers set
  high enough never to refuse one (`bench.harness.UNREFUSING_TIERS`), so it costs what
  it costs and limits nothing; then the same batches served again, all duplicates.

It checks that the table holds exactly one row per distinct event and client afterwards. It also
reports the served gateway's own CPU time per batch (its workers, from `/proc`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from rich.console import Console
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.seed import demo_id
from bench import usage_aggregation
from bench.harness import (
    DEMO_CLIENT,
    Database,
    Server,
    append_results,
    host_line,
    issue_token,
    markdown_table,
    rate_limit_storage,
    rich_table,
    running,
    scratch_directory,
    throwaway_database,
)
from core.canonical.catalog import BillingInterval, MeterAggregation
from core.canonical.subscriptions import SubscriptionStatus
from core.db import create_engine, create_sessionmaker
from core.ids import new_id
from core.models.price import PriceRow
from core.models.subscription import SubscriptionRow
from core.models.usage_event import UsageEventRow
from core.settings import UsageSettings
from process_apis.usage import repository
from process_apis.usage.periods import add_months
from process_apis.usage.schemas import MAX_BATCH
from process_apis.usage.service import UsageIngestion

CLIENT = "bench-usage"
SERVED_WORKERS = 2  # uvicorn workers of the served gateway, one per core of the target host
TARGET = 20_000  # events/s, the issue's target
Batch = list[dict[str, Any]]
Work = TypeVar("Work")  # what one unit of a timed phase is: a batch, or its encoded body


async def _subscription(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[str, str]:
    """A monthly subscription of demo customer 1 with a metered price for `api_calls`."""
    anchor = (datetime.now(UTC) - timedelta(days=10)).replace(microsecond=0)
    async with sessionmaker.begin() as session:
        flat = await session.get(PriceRow, demo_id("price", 11))
        assert flat is not None
        metered = PriceRow(
            id=new_id("price"),
            product_id=flat.product_id,
            currency=flat.currency,
            unit_amount=1,
            interval=BillingInterval.MONTH,
            meter="api_calls",
            aggregation=MeterAggregation.SUM,
        )
        subscription = SubscriptionRow(
            id=new_id("subscription"),
            customer_id=demo_id("customer", 1),
            price_id=flat.id,
            quantity=1,
            status=SubscriptionStatus.ACTIVE,
            current_period_start=anchor,
            current_period_end=add_months(anchor, 1),
            created_at=add_months(anchor, -1),
        )
        session.add_all([metered, subscription])
    return subscription.id, anchor.isoformat()


def _batches(subscription_id: str, at: str, first: int, count: int, prefix: str) -> list[Batch]:
    events = [
        {
            "id": f"{prefix}-{n}",
            "subscription_id": subscription_id,
            "meter": "api_calls",
            "quantity": n % 50 + 1,
            "timestamp": at,
            "properties": {"region": "eu", "request": n},
        }
        for n in range(first, first + count)
    ]
    return [events[start : start + MAX_BATCH] for start in range(0, count, MAX_BATCH)]


async def _timed(
    batches: Sequence[Work], work: Callable[[Work], Awaitable[None]], concurrency: int
) -> float:
    """Seconds to run `work` over `batches`, `concurrency` at a time."""
    queue = list(reversed(batches))

    async def worker() -> None:
        while queue:
            await work(queue.pop())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


def _raw_rows(batch: Batch, subscription_id: str, price_id: str) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {
            "client_id": "bench-raw",
            "event_id": event["id"],
            "subscription_id": subscription_id,
            "price_id": price_id,
            "meter": event["meter"],
            "quantity_micros": event["quantity"] * 1_000_000,
            "distinct_value": None,
            "occurred_at": now,
            "period_start": now,
            "period_end": now,
            "late": False,
            "flagged": False,
            "properties": event["properties"],
            "body_hash": "0" * 64,
            "received_at": now,
        }
        for event in batch
    ]


@dataclass(frozen=True)
class Share:
    """One process's part of a phase: the batches `first..first+count` of the events."""

    url: str
    phase: str
    subscription_id: str
    price_id: str
    at: str
    first: int
    count: int
    concurrency: int
    base_url: str = ""  # the served phases: the gateway and the token they send
    token: str = ""


async def _run_served(share: Share) -> tuple[float, float, int]:
    """A served phase's share: each batch POSTed as its JSON, `concurrency` in flight."""
    batches = _batches(share.subscription_id, share.at, share.first, share.count, "evt")
    bodies = [json.dumps({"events": batch}).encode() for batch in batches]
    headers = {"Authorization": f"Bearer {share.token}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=share.concurrency)
    rejected: list[int] = []
    async with httpx.AsyncClient(
        base_url=share.base_url, headers=headers, limits=limits, timeout=120
    ) as client:

        async def post(body: bytes) -> None:
            response = await client.post("/v1/usage-events", content=body)
            if response.status_code != 200:
                raise SystemExit(f"{share.phase}: {response.status_code} {response.text[:500]}")
            rejected.append(response.json()["rejected"])

        await client.get("/healthz")  # connect before the clock starts
        started = time.time()
        await _timed(bodies, post, share.concurrency)
        return started, time.time(), sum(rejected)


async def _run_share(share: Share) -> tuple[float, float, int]:
    """(wall-clock start, end, events rejected) of one process's share of a phase."""
    if share.base_url:
        return await _run_served(share)
    engine = create_engine(share.url)
    sessionmaker = create_sessionmaker(engine)
    prefix = "raw" if share.phase == "baseline" else "evt"
    batches = _batches(share.subscription_id, share.at, share.first, share.count, prefix)
    ingestion = UsageIngestion(sessionmaker, UsageSettings())
    rejected: list[int] = []

    async def insert_raw(batch: Batch) -> None:
        rows = _raw_rows(batch, share.subscription_id, share.price_id)
        async with sessionmaker.begin() as session:
            if engine.dialect.name == "postgresql":  # asyncpg as it is, the arrays bound
                await (await repository.driver(session)).execute(
                    repository.PG_INSERT_ROWS, *repository.pg_columns(rows)
                )
            else:
                await session.execute(insert(UsageEventRow), rows)

    async def ingest(batch: Batch) -> None:
        answer = await ingestion.ingest(CLIENT, batch, correlation_id=None)
        rejected.append(answer.rejected)

    try:
        async with sessionmaker() as session:  # connect before the clock starts
            await session.scalar(select(1))
        started = time.time()
        await _timed(
            batches, insert_raw if share.phase == "baseline" else ingest, share.concurrency
        )
        return started, time.time(), sum(rejected)
    finally:
        await engine.dispose()


def _share(share: Share) -> tuple[float, float, int]:
    return asyncio.run(_run_share(share))


def _phase(pool: ProcessPoolExecutor, shares: list[Share]) -> float:
    """Events per second of a phase run by the processes side by side."""
    outcomes = list(pool.map(_share, shares))
    rejected = sum(outcome[2] for outcome in outcomes)
    if rejected:
        raise SystemExit(f"{shares[0].phase}: {rejected} events rejected")
    seconds = max(o[1] for o in outcomes) - min(o[0] for o in outcomes)
    return sum(share.count for share in shares) / seconds


async def _prepare(url: str) -> tuple[str, str, str]:
    engine = create_engine(url)
    try:
        sessionmaker = create_sessionmaker(engine)
        subscription_id, at = await _subscription(sessionmaker)
        async with sessionmaker() as session:
            price_id = await session.scalar(
                select(PriceRow.id).where(PriceRow.meter == "api_calls")
            )
        assert price_id is not None
        return subscription_id, price_id, at
    finally:
        await engine.dispose()


async def _stored(url: str, client_id: str) -> int:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            count = await session.scalar(
                select(func.count()).where(UsageEventRow.client_id == client_id)
            )
            return int(count or 0)
    finally:
        await engine.dispose()


def measure(
    database: Database, scratch: Path, count: int, processes: int, concurrency: int
) -> tuple[dict[str, float], str]:
    """Events/s of each phase (`served-cpu`, `served-dup-cpu`: the gateway's CPU seconds
    per event), and where the served gateway's rate limiter counted."""
    url = database.url
    subscription_id, price_id, at = asyncio.run(_prepare(url))
    per = count // processes

    def shares(phase: str, base_url: str = "", token: str = "") -> list[Share]:
        return [
            Share(
                url,
                phase,
                subscription_id,
                price_id,
                at,
                n * per,
                per,
                concurrency,
                base_url,
                token,
            )
            for n in range(processes)
        ]

    context = multiprocessing.get_context("spawn")
    with (
        ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool,
        rate_limit_storage() as (storage_url, storage),
    ):
        rates = {phase: _phase(pool, shares(phase)) for phase in ("baseline", "ingest", "dup")}
        gateway = Server(
            "gateway",
            database,
            scratch,
            workers=SERVED_WORKERS,
            LEDGERGATE_RATE_LIMIT_STORAGE_URL=storage_url,
        )
        with running([gateway]):
            token = issue_token(gateway, "usage:write")
            for phase in ("served", "served-dup"):
                cpu = gateway.cpu_seconds()
                rates[phase] = _phase(pool, shares(phase, gateway.base_url, token))
                rates[f"{phase}-cpu"] = (gateway.cpu_seconds() - cpu) / (per * processes)
    for client_id in (CLIENT, DEMO_CLIENT[0]):
        stored = asyncio.run(_stored(url, client_id))
        if stored != per * processes:
            raise SystemExit(f"{client_id}: {stored} events stored, {per * processes} sent")
    return rates, storage


def aggregation_main(sizes: list[int], repeat: int) -> None:
    """Time the aggregation of one period at each size; the per-event cost must stay flat."""
    console = Console()
    with scratch_directory() as scratch, throwaway_database(scratch) as database:
        results = asyncio.run(_aggregation(database.url, sizes, repeat))
    columns = ("events", "measure", "seconds", "µs/event", "of baseline")
    cells = [
        (
            f"{size:,}",
            name,
            f"{seconds[name]:.3f}",
            f"{seconds[name] / size * 1e6:.2f}",
            f"{seconds[name] / seconds['baseline']:.2f}×",
        )
        for size, seconds in results.items()
        for name in usage_aggregation.MEASURES
    ]
    console.print(rich_table("Usage aggregation, one period", columns, cells))
    largest = max(results)
    projected = max(
        results[largest][m] / largest * 1_000_000 for m in ("sum", "max", "unique_count")
    )
    append_results(
        f"## Usage aggregation (`bench/usage.py --aggregate`), {datetime.now(UTC):%Y-%m-%d %H:%M}"
        f" UTC\n\nCommand: `uv run python -m bench.usage --aggregate "
        f"{' '.join(str(s) for s in sizes)} --repeat {repeat}`. {database.description}; "
        f"{host_line()}. Per size: that many events of one subscription item and period and "
        f"as many of the next period; best of {repeat} runs (the stamping: one run). Baseline: "
        f"a sequential `sum` over the whole table.\n\n"
        + markdown_table(columns, cells)
        + f"\nThe slowest aggregation at {largest:,} events, per event, projects to "
        f"{projected:.2f} s for 1,000,000 (target ≤ {usage_aggregation.LIMIT_SECONDS:.0f} s).\n"
    )


async def _aggregation(url: str, sizes: list[int], repeat: int) -> dict[int, dict[str, float]]:
    engine = create_engine(url)
    try:
        sessionmaker = create_sessionmaker(engine)
        return {
            size: await usage_aggregation.measure_size(engine, sessionmaker, size, repeat)
            for size in sizes
        }
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--processes", type=int, default=2, help="as gateway workers")
    parser.add_argument("--concurrency", type=int, default=2, help="batches per process")
    parser.add_argument(
        "--aggregate",
        type=int,
        nargs="+",
        metavar="EVENTS",
        help="time aggregating one period of each many events instead (e.g. 100000 1000000)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="aggregation runs per measure")
    args = parser.parse_args()
    if args.aggregate:
        aggregation_main(args.aggregate, args.repeat)
        return
    console = Console()
    with scratch_directory() as scratch, throwaway_database(scratch) as database:
        rates, storage = measure(database, scratch, args.events, args.processes, args.concurrency)
    columns = ("path", "what", "events/s", "of baseline")
    rows = [
        ("baseline", "bare INSERT with asyncpg, no checks", rates["baseline"]),
        ("ingestion", "validated, de-duplicated, ON CONFLICT insert", rates["ingest"]),
        ("duplicates", "the same batches again: all duplicates", rates["dup"]),
        ("served", "POST /v1/usage-events to the gateway, 2 workers", rates["served"]),
        ("served duplicates", "the same POSTs again: all duplicates", rates["served-dup"]),
    ]
    cells = [
        (name, what, f"{rate:,.0f}", f"{rate / rates['baseline']:.0%}") for name, what, rate in rows
    ]
    gateway_cpu = (
        f"The gateway's own CPU time (its workers, from `/proc`) per batch of {MAX_BATCH:,}: "
        f"{rates['served-cpu'] * MAX_BATCH * 1000:.0f} ms new, "
        f"{rates['served-dup-cpu'] * MAX_BATCH * 1000:.0f} ms duplicates."
    )
    console.print(rich_table("Usage ingestion", columns, cells))
    console.print(gateway_cpu)
    verdict = {
        path: "meets" if rates[path] >= TARGET else "misses" for path in ("ingest", "served")
    }
    append_results(
        f"## Usage ingestion (`bench/usage.py`), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
        f"Command: `uv run python -m bench.usage --events {args.events} --processes "
        f"{args.processes} --concurrency {args.concurrency}`. {database.description}; "
        f"{host_line()}. Batches of 1,000 from {args.processes} processes (as gateway "
        f"workers), {args.concurrency} at a time each, through the service the API and the "
        f"CLI call (no HTTP); served: the same batches POSTed by {args.processes} load "
        f"processes, {args.concurrency} in flight each, to the gateway as `ledgergate serve` "
        f"runs it with {SERVED_WORKERS} uvicorn workers on the same host (the load processes "
        f"share its cores), its rate limiter counting in {storage} with limits set never to "
        f"refuse a request.\n\n"
        + markdown_table(columns, cells)
        + f"\nIngestion in process {verdict['ingest']} the target of {TARGET:,} events/s, "
        f"served {verdict['served']} it; every event stored once per client. {gateway_cpu}\n"
    )


if __name__ == "__main__":
    main()
