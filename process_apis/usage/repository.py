"""Reads and writes of the usage table: batched, one statement per batch."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from pydantic_core import to_json
from sqlalchemy import Insert, Table, delete, func, select
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


# PostgreSQL's hot path goes to asyncpg as it is: a batch is a column of arrays, one
# prepared statement whatever its size, and no statement compiled per batch.
COLUMN_TYPES = {
    "client_id": "varchar",
    "event_id": "varchar",
    "subscription_id": "varchar",
    "price_id": "varchar",
    "meter": "varchar",
    "quantity_micros": "bigint",
    "distinct_value": "varchar",
    "occurred_at": "timestamptz",
    "period_start": "timestamptz",
    "period_end": "timestamptz",
    "late": "boolean",
    "flagged": "boolean",
    "properties": "json",
    "body_hash": "varchar",
    "received_at": "timestamptz",
}
PG_INSERT_ROWS = (
    f"INSERT INTO usage_events ({', '.join(COLUMN_TYPES)}) "
    "SELECT * FROM unnest("
    + ", ".join(
        # JSON has no array type to bind: the documents go as text and are cast back.
        f"${n}::text[]::json[]" if kind == "json" else f"${n}::{kind}[]"
        for n, kind in enumerate(COLUMN_TYPES.values(), start=1)
    )
    + ")"
)
PG_INSERT = PG_INSERT_ROWS + " ON CONFLICT (client_id, event_id) DO NOTHING RETURNING event_id"
# The ids are probed one by one in the unique index (`LIMIT 1`: at most one row anyway,
# and the subquery stays a probe per id rather than becoming a join that reads every
# event of the client). `event_id = ANY($2)` let a prepared statement's generic plan scan
# the client's events and compare each with the whole array: 0.8 s a batch once the
# client had 20,000 events, and growing with them.
PG_STORED = (
    "SELECT e.event_id, e.body_hash FROM unnest($2::varchar[]) AS ids(id) "
    "CROSS JOIN LATERAL (SELECT event_id, body_hash FROM usage_events "
    "WHERE client_id = $1 AND event_id = ids.id LIMIT 1) AS e"
)


async def driver(session: AsyncSession) -> Any:
    """The asyncpg connection under the session's, in its transaction."""
    connection = await session.connection()
    return (await connection.get_raw_connection()).driver_connection


def pg_columns(rows: Sequence[dict[str, Any]]) -> list[list[Any]]:
    """The rows as one array per column of `PG_INSERT_ROWS`, properties as JSON text."""
    columns = [[row[name] for row in rows] for name in COLUMN_TYPES if name != "properties"]
    properties = [
        None if row["properties"] is None else to_json(row["properties"]).decode() for row in rows
    ]
    columns.insert(list(COLUMN_TYPES).index("properties"), properties)
    return columns


async def insert_new(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert `rows` in one statement; the event ids that were new (the others were there)."""
    if not rows:
        return set()
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        records = await (await driver(session)).fetch(PG_INSERT, *pg_columns(rows))
        return {record[0] for record in records}
    result = await connection.execute(_insert(connection.dialect.name), list(rows))
    return set(result.scalars().all())


async def stored_hashes(
    session: AsyncSession, client_id: str, event_ids: Collection[str]
) -> dict[str, str]:
    """The body hash of each of `event_ids` the client already sent."""
    if not event_ids:
        return {}
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        records = await (await driver(session)).fetch(PG_STORED, client_id, list(event_ids))
        return {record[0]: record[1] for record in records}
    rows = await session.execute(
        select(UsageEventRow.event_id, UsageEventRow.body_hash).where(
            UsageEventRow.client_id == client_id, UsageEventRow.event_id.in_(event_ids)
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
