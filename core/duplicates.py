"""Count a suppressed duplicate (an idempotent replay, a redelivered webhook, a usage
event sent again) in the caller's transaction, so every replica's add up."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import table_of, upsert_into
from core.models.base import utcnow
from core.models.duplicate_count import DuplicateCountRow

COUNTS = table_of(DuplicateCountRow)


class DuplicateSource(StrEnum):
    IDEMPOTENT_REPLAY = "idempotent_replay"
    BILLING_WEBHOOK = "billing_webhook"
    USAGE_EVENT = "usage_event"


async def count_duplicates(session: AsyncSession, source: DuplicateSource, n: int = 1) -> None:
    """Add `n` to today's count of `source` (one statement; the caller commits)."""
    if n <= 0:
        return
    connection = await session.connection()
    insert = upsert_into(COUNTS, connection.dialect.name).values(
        day=utcnow().date(), source=source.value, count=n
    )
    await connection.execute(
        insert.on_conflict_do_update(
            index_elements=[COUNTS.c.day, COUNTS.c.source],
            set_={"count": COUNTS.c.count + insert.excluded.count},
        )
    )


async def per_day(session: AsyncSession, first: date, last: date) -> dict[date, int]:
    """Duplicates suppressed per day from `first` to `last` (both included), every source."""
    rows = await session.execute(
        select(DuplicateCountRow.day, func.sum(DuplicateCountRow.count))
        .where(DuplicateCountRow.day.between(first, last))
        .group_by(DuplicateCountRow.day)
    )
    return {day: int(count) for day, count in rows.all()}
