"""Reading the recorded events back: newest first for a list, oldest first to follow on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.event_outbox import EventOutboxRow


@dataclass(frozen=True)
class EventFilter:
    """Events of a type, of a subject, and with `time` in [since, until)."""

    type: str | None = None
    subject: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.type is not None:
            found.append(EventOutboxRow.type == self.type)
        if self.subject is not None:
            found.append(EventOutboxRow.subject == self.subject)
        if self.since is not None:
            found.append(EventOutboxRow.time >= self.since)
        if self.until is not None:
            found.append(EventOutboxRow.time < self.until)
        return found


async def newest(
    session: AsyncSession, filters: EventFilter, *, before: int | None, limit: int
) -> Sequence[EventOutboxRow]:
    """Up to `limit` matching events recorded before sequence `before`, newest first."""
    query = select(EventOutboxRow).where(*filters.conditions())
    if before is not None:
        query = query.where(EventOutboxRow.sequence < before)
    return (
        await session.scalars(query.order_by(EventOutboxRow.sequence.desc()).limit(limit))
    ).all()


async def following(
    session: AsyncSession, filters: EventFilter, *, after: int, limit: int
) -> Sequence[EventOutboxRow]:
    """Up to `limit` matching events recorded after sequence `after`, oldest first."""
    query = (
        select(EventOutboxRow)
        .where(EventOutboxRow.sequence > after, *filters.conditions())
        .order_by(EventOutboxRow.sequence)
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def last_sequence(session: AsyncSession) -> int:
    """The sequence of the latest recorded event (0 when none is)."""
    found = await session.scalar(select(func.max(EventOutboxRow.sequence)))
    return found or 0
