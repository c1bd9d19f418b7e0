"""Reads and writes of the usage table: batched, one statement per batch."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, String, Table, any_, bindparam, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.catalog import MeterAggregation
from core.models.subscription import SubscriptionRow
from core.models.usage_event import UsageEventRow


def _insert(dialect: str) -> Insert:
    """INSERT ... ON CONFLICT (client_id, event_id) DO NOTHING RETURNING event_id."""
    table = UsageEventRow.__table__
    assert isinstance(table, Table)
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=[table.c.client_id, table.c.event_id])
        .returning(table.c.event_id)
    )


async def insert_new(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert `rows` in one statement; the event ids that were new (the others were there)."""
    if not rows:
        return set()
    connection = await session.connection()
    result = await connection.execute(_insert(connection.dialect.name), list(rows))
    return set(result.scalars().all())


async def stored_hashes(
    session: AsyncSession, client_id: str, event_ids: Collection[str]
) -> dict[str, str]:
    """The body hash of each of `event_ids` the client already sent."""
    if not event_ids:
        return {}
    connection = await session.connection()
    if connection.dialect.name == "postgresql":  # one array parameter, not a thousand
        ids = any_(bindparam("event_ids", list(event_ids), type_=postgresql.ARRAY(String)))
        named = UsageEventRow.event_id == ids
    else:
        named = UsageEventRow.event_id.in_(event_ids)
    rows = await session.execute(
        select(UsageEventRow.event_id, UsageEventRow.body_hash).where(
            UsageEventRow.client_id == client_id, named
        )
    )
    return {row.event_id: row.body_hash for row in rows}


async def lock_subscriptions(session: AsyncSession, subscription_ids: Collection[str]) -> None:
    """Serialise cap checks per subscription (PostgreSQL; SQLite writes one at a time)."""
    if subscription_ids:
        await session.execute(
            select(SubscriptionRow.id)
            .where(SubscriptionRow.id.in_(sorted(subscription_ids)))
            .order_by(SubscriptionRow.id)
            .with_for_update()
        )


async def period_usage(
    session: AsyncSession,
    *,
    subscription_id: str,
    price_id: str,
    period_start: datetime,
    aggregation: MeterAggregation,
    values: Collection[str] = (),
) -> tuple[int, set[str]]:
    """The period's stored usage under `aggregation` (micros, or a count of distinct values),
    and for `unique_count` which of `values` are counted already."""
    where = (
        UsageEventRow.subscription_id == subscription_id,
        UsageEventRow.price_id == price_id,
        UsageEventRow.period_start == period_start,
    )
    if aggregation == MeterAggregation.UNIQUE_COUNT:
        count = await session.scalar(
            select(func.count(func.distinct(UsageEventRow.distinct_value))).where(*where)
        )
        known = await session.scalars(
            select(UsageEventRow.distinct_value)
            .where(*where, UsageEventRow.distinct_value.in_(values))
            .distinct()
        )
        return int(count or 0), {value for value in known if value is not None}
    measure = (
        func.sum(UsageEventRow.quantity_micros)
        if aggregation == MeterAggregation.SUM
        else func.max(UsageEventRow.quantity_micros)
    )
    total = await session.scalar(select(measure).where(*where))
    return int(total or 0), set()


async def purge_before(session: AsyncSession, cutoff: datetime, *, batch: int) -> int:
    """Delete up to `batch` events whose period ended before `cutoff`; how many went."""
    doomed = (
        select(UsageEventRow.id).where(UsageEventRow.period_end < cutoff).limit(batch)
    ).scalar_subquery()
    result = await session.execute(delete(UsageEventRow).where(UsageEventRow.id.in_(doomed)))
    return int(getattr(result, "rowcount", 0) or 0)
