"""Usage ingestion into PostgreSQL: `python -m bench.usage` (also in `make bench`).

A throwaway database (PostgreSQL, else SQLite) gets one metered subscription. The same
events are then written three ways, in batches of 1,000 and `--concurrency` batches at
a time, and timed:

- the baseline: raw batched INSERTs of the finished rows (no validation, no
  de-duplication), one statement per batch, as fast as the table takes them;
- ingestion: `UsageIngestion.ingest` exactly as `POST /v1/usage-events` and
  `ledgergate usage import` run it (pydantic validation, the stored-id lookup, the
  contract and period, one `INSERT ... ON CONFLICT DO NOTHING` per batch);
- the same batches again, every event a duplicate.

It checks that the table holds exactly one row per distinct event afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.seed import demo_id
from bench.harness import (
    append_results,
    host_line,
    markdown_table,
    rich_table,
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
from process_apis.usage.periods import add_months
from process_apis.usage.schemas import MAX_BATCH
from process_apis.usage.service import UsageIngestion

CLIENT = "bench-usage"
TARGET = 20_000  # events/s, the target
Batch = list[dict[str, Any]]


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


def _batches(subscription_id: str, at: str, count: int, prefix: str) -> list[Batch]:
    events = [
        {
            "id": f"{prefix}-{n}",
            "subscription_id": subscription_id,
            "meter": "api_calls",
            "quantity": n % 50 + 1,
            "timestamp": at,
            "properties": {"region": "eu", "request": n},
        }
        for n in range(count)
    ]
    return [events[start : start + MAX_BATCH] for start in range(0, count, MAX_BATCH)]


async def _timed(
    batches: Sequence[Batch], work: Callable[[Batch], Awaitable[None]], concurrency: int
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


async def measure(url: str, count: int, concurrency: int) -> dict[str, float]:
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    try:
        subscription_id, at = await _subscription(sessionmaker)
        async with sessionmaker() as session:
            price_id = await session.scalar(
                select(PriceRow.id).where(PriceRow.meter == "api_calls")
            )
        assert price_id is not None
        raw = [
            _raw_rows(b, subscription_id, price_id)
            for b in _batches(subscription_id, at, count, "raw")
        ]

        async def insert_raw(rows: Batch) -> None:
            async with sessionmaker.begin() as session:
                await session.execute(insert(UsageEventRow), rows)

        ingestion = UsageIngestion(sessionmaker, UsageSettings())
        failures: list[int] = []

        async def ingest(batch: Batch) -> None:
            answer = await ingestion.ingest(CLIENT, batch, correlation_id=None)
            failures.append(answer.rejected)

        batches = _batches(subscription_id, at, count, "evt")
        baseline = await _timed(raw, lambda rows: insert_raw(rows), concurrency)
        ingested = await _timed(batches, ingest, concurrency)
        duplicates = await _timed(batches, ingest, concurrency)
        async with sessionmaker() as session:
            stored = await session.scalar(
                select(func.count()).where(UsageEventRow.client_id == CLIENT)
            )
        assert stored == count and not any(failures), (stored, sum(failures))
        return {"baseline": count / baseline, "ingest": count / ingested, "dup": count / duplicates}
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    console = Console()
    with scratch_directory() as scratch, throwaway_database(scratch) as database:
        rates = asyncio.run(measure(database.url, args.events, args.concurrency))
    columns = ("path", "what", "events/s", "of baseline")
    rows = [
        ("baseline", "raw batched INSERT, no checks", rates["baseline"]),
        ("ingestion", "validated, de-duplicated, ON CONFLICT insert", rates["ingest"]),
        ("duplicates", "the same batches again: all duplicates", rates["dup"]),
    ]
    cells = [
        (name, what, f"{rate:,.0f}", f"{rate / rates['baseline']:.0%}") for name, what, rate in rows
    ]
    console.print(rich_table("Usage ingestion", columns, cells))
    verdict = "meets" if rates["ingest"] >= TARGET else "misses"
    append_results(
        f"## Usage ingestion (`bench/usage.py`), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
        f"Command: `uv run python -m bench.usage --events {args.events} --concurrency "
        f"{args.concurrency}`. {database.description}; {host_line()}. Batches of 1,000, "
        f"{args.concurrency} at a time, through the service the API and the CLI call "
        f"(no HTTP).\n\n"
        + markdown_table(columns, cells)
        + f"\nIngestion {verdict} the target of {TARGET:,} events/s; every event stored once.\n"
    )


if __name__ == "__main__":
    main()
