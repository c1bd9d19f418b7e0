"""Recording events in the caller's transaction (the transactional outbox).

`record` adds the event's row to the transaction that commits the state change it
reports: both commit, or neither. The event id is unique, and recording an id already
there does nothing, so a step that runs again after a crash never mints a second event.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.base import utcnow
from core.models.event_outbox import EventOutboxRow
from events.catalog import validate
from events.envelope import CloudEvent


def _values(event: CloudEvent) -> dict[str, Any]:
    validate(event)
    return {
        "event_id": event.id,
        "type": event.type,
        "subject": event.subject,
        "partner_id": event.partnerid,
        "time": event.time,
        "envelope": event.model_dump(mode="json"),
        "recorded_at": utcnow(),
    }


def _insert(dialect: str) -> Insert:
    """INSERT ... ON CONFLICT (event_id) DO NOTHING in the session's dialect."""
    if dialect == "postgresql":
        return postgresql.insert(EventOutboxRow).on_conflict_do_nothing(
            index_elements=[EventOutboxRow.event_id]
        )
    return sqlite.insert(EventOutboxRow).on_conflict_do_nothing(
        index_elements=[EventOutboxRow.event_id]
    )


async def record(session: AsyncSession, *events: CloudEvent) -> None:
    """Add `events` to the outbox in `session`'s transaction (the caller commits).

    Each is validated against its type's schema first; an id already recorded is skipped.
    """
    await record_all(session, events)


async def record_all(session: AsyncSession, events: Iterable[CloudEvent]) -> None:
    """`record` for an iterable of events (nothing at all when it is empty)."""
    rows = [_values(event) for event in events]
    if rows:
        await session.execute(_insert(session.get_bind().dialect.name), rows)
