"""Recording events in the caller's transaction (the transactional outbox).

`record` adds the event's row to the transaction that commits the state change it
reports: both commit, or neither. The event id is unique, and recording an id already
there does nothing, so a step that runs again after a crash never mints a second event.
`record_on` does the same on a connection, for code running inside a flush.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from sqlalchemy import Connection, Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from core.db import connection_of
from core.folded import Write
from core.models.base import utcnow
from core.models.event_outbox import EventOutboxRow
from events.catalog import validate
from events.envelope import CloudEvent
from events.lanes import lane_of


def _values(event: CloudEvent) -> dict[str, Any]:
    validate(event)
    return {
        "event_id": event.id,
        "type": event.type,
        "subject": event.subject,
        "lane": lane_of(event.subject),
        "partner_id": event.partnerid,
        "time": event.time,
        "envelope": event.model_dump(mode="json"),
        "recorded_at": utcnow(),
    }


@cache
def _insert(dialect: str) -> Insert:
    """INSERT ... ON CONFLICT (event_id) DO NOTHING in the connection's dialect (built once
    per dialect: its cache key and compiled form are reused)."""
    table = EventOutboxRow.__table__
    assert isinstance(table, Table)
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing(index_elements=[table.c.event_id])


async def record(session: AsyncSession | AsyncConnection, *events: CloudEvent) -> None:
    """Add `events` to the outbox in `session`'s transaction, a session's or a connection's
    (the caller commits).

    Each is validated against its type's schema first; an id already recorded is skipped.
    """
    await record_all(session, events)


async def record_all(session: AsyncSession | AsyncConnection, events: Iterable[CloudEvent]) -> None:
    """`record` for an iterable of events (nothing at all when it is empty)."""
    rows = [_values(event) for event in events]
    if rows:
        connection = await connection_of(session)
        await connection.execute(_insert(connection.dialect.name), rows)


def recording(dialect: str, events: Iterable[CloudEvent]) -> list[Write]:
    """`record`'s write of `events`, to send with other writes of its transaction
    (`core.folded`): none when there are no events."""
    rows = [_values(event) for event in events]
    return [Write(_insert(dialect), rows)] if rows else []


def record_on(connection: Connection, events: Iterable[CloudEvent]) -> None:
    """`record` on a synchronous connection (inside a session's flush)."""
    rows = [_values(event) for event in events]
    if rows:
        connection.execute(_insert(connection.dialect.name), rows)
