"""Aggregating one billing period's usage, from 100k to 1M events: the statement the
reporting and `GET /v1/subscriptions/{id}/usage` run (`process_apis.usage.aggregation`).

The table gets `size` events of one subscription item and period, and as many again of
the next period (so the index, not a table scan, has to find the period), generated in
the database. Per size it times, each the best of `--repeat` runs:

- the baseline: a sequential `sum` over the whole table (what any query on it could cost);
- `sum`, `max` and `unique_count` (10,000 distinct values) of the period;
- a report pass's stamping of the period's events (`UPDATE ... WHERE report_pass_id IS NULL`),
  which runs once per event over the period's passes, not per pass.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy import String, bindparam, cast, delete, func, insert, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.canonical.catalog import MeterAggregation
from core.models.usage_event import UsageEventRow
from process_apis.usage.aggregation import Item, aggregate
from process_apis.usage.periods import add_months

LIMIT_SECONDS = 10.0  # the target for 1,000,000 events of one period
DISTINCT_VALUES = 10_000
MEASURES = ("baseline", "sum", "max", "unique_count", "stamp")


COLUMNS = (
    "client_id",
    "event_id",
    "subscription_id",
    "price_id",
    "meter",
    "quantity_micros",
    "distinct_value",
    "occurred_at",
    "period_start",
    "period_end",
    "late",
    "flagged",
    "body_hash",
    "received_at",
)


async def _fill(session: AsyncSession, size: int, start: datetime) -> None:
    """`size` events in the period at `start` and `size` in the next, generated in SQL."""
    await session.execute(delete(UsageEventRow))
    for index, period in enumerate((start, add_months(start, 1))):
        numbers = select(literal(1).label("n")).cte("numbers", recursive=True)
        numbers = numbers.union_all(select((numbers.c.n + 1).label("n")).where(numbers.c.n < size))
        n = numbers.c.n + index * size
        at = bindparam(f"at{index}", period, type_=UsageEventRow.period_start.type)
        end = bindparam(f"end{index}", add_months(period, 1), type_=UsageEventRow.period_end.type)
        rows = select(
            literal("bench"),
            literal("e-") + cast(n, String),
            literal("sub_bench"),
            literal("price_bench"),
            literal("api_calls"),
            (n % 50 + 1) * 1_000_000,
            literal("v-") + cast(n % DISTINCT_VALUES, String),
            at,
            at,
            end,
            literal(False),
            literal(False),
            literal("0" * 64),
            at,
        ).select_from(numbers)
        await session.execute(insert(UsageEventRow).from_select(list(COLUMNS), rows))


async def _best(repeat: int, work: Callable[[], Awaitable[object]]) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        await work()
        best = min(best, time.perf_counter() - started)
    return best


async def measure_size(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], size: int, repeat: int
) -> dict[str, float]:
    """Seconds per measure for `size` events of one period."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    async with sessionmaker.begin() as session:
        await _fill(session, size, start)
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM ANALYZE usage_events"))
    seconds: dict[str, float] = {}

    async def baseline() -> None:
        async with sessionmaker() as session:
            await session.scalar(select(func.sum(UsageEventRow.quantity_micros)))

    seconds["baseline"] = await _best(repeat, baseline)
    for aggregation in MeterAggregation:
        item = Item("sub_bench", "price_bench", aggregation)

        async def run(item: Item = item) -> None:
            async with sessionmaker() as session:
                await aggregate(session, item, start)

        seconds[aggregation.value] = await _best(repeat, run)

    async def stamp() -> None:
        async with sessionmaker() as session:
            await session.execute(
                update(UsageEventRow)
                .where(
                    UsageEventRow.subscription_id == "sub_bench",
                    UsageEventRow.price_id == "price_bench",
                    UsageEventRow.period_start == start,
                    UsageEventRow.report_pass_id.is_(None),
                )
                .values(report_pass_id=1)
            )
            await session.rollback()  # every run stamps the whole period

    seconds["stamp"] = await _best(1, stamp)
    return seconds
