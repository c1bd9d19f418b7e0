"""Which outbox rows a relay may hand to one sink now, in commit order per subject.

A relay claims the oldest rows its sink has not taken, locking them (`FOR UPDATE SKIP
LOCKED` on PostgreSQL, so cooperating replicas take different rows; SQLite has a
single writer and a plain select). It keeps only rows no earlier event of the same
subject precedes outside its claim: that event is held by another replica, and this
subject waits for it. Same-subject changes commit in order because each locks the
subject's own row, so sequence order is commit order within a subject.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.event_outbox import EventOutboxRow, EventPublicationRow


def _not_taken_by(sink: str) -> ColumnElement[bool]:
    return ~exists().where(
        EventPublicationRow.sequence == EventOutboxRow.sequence,
        EventPublicationRow.sink == sink,
    )


async def claim(session: AsyncSession, sink: str, *, limit: int) -> list[EventOutboxRow]:
    """Lock and return up to `limit` rows `sink` may take now, in sequence order."""
    rows: Sequence[EventOutboxRow] = (
        await session.scalars(
            select(EventOutboxRow)
            .where(EventOutboxRow.published_at.is_(None), _not_taken_by(sink))
            .order_by(EventOutboxRow.sequence)
            .limit(limit)
            .with_for_update(skip_locked=True, of=EventOutboxRow)
        )
    ).all()
    if not rows:
        return []
    held = await _held_elsewhere(session, sink, rows)
    return [row for row in rows if row.sequence < held.get(row.subject, row.sequence + 1)]


async def _held_elsewhere(
    session: AsyncSession, sink: str, rows: Sequence[EventOutboxRow]
) -> dict[str, int]:
    """Per subject of `rows`, the first earlier event `sink` has not taken that is not ours."""
    ours = [row.sequence for row in rows]
    found = await session.execute(
        select(EventOutboxRow.subject, func.min(EventOutboxRow.sequence))
        .where(
            EventOutboxRow.subject.in_({row.subject for row in rows}),
            EventOutboxRow.published_at.is_(None),
            EventOutboxRow.sequence <= max(ours),
            EventOutboxRow.sequence.not_in(ours),
            _not_taken_by(sink),
        )
        .group_by(EventOutboxRow.subject)
    )
    return dict(found.all())
