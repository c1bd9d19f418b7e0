"""`WebhookFanout`: the relay's sink that turns each event into one message per endpoint.

A message is kept for every enabled endpoint the event matches: its event-type filter
(empty receives every type) and, for a partner's endpoint, the event's `partnerid`.
The unique key on (endpoint, event id) makes an event offered again add nothing.

Messages are numbered (`position`) past every message kept before, in the order of the
events offered. The relay offers a subject's events in commit order, and its later
events only once this sink has taken the earlier ones, so positions follow commit
order within each subject (two batches of different subjects may share numbers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.ids import new_id
from core.models.base import utcnow
from core.models.webhook_endpoint import EndpointStatus, WebhookEndpointRow
from core.models.webhook_message import MessageStatus, WebhookMessageRow
from events.envelope import CloudEvent


def matches(endpoint: WebhookEndpointRow, event: CloudEvent) -> bool:
    """Whether `endpoint` receives `event`."""
    if endpoint.partner_id is not None and event.partnerid != endpoint.partner_id:
        return False
    return not endpoint.event_types or event.type in endpoint.event_types


def message_values(
    endpoint_id: str, event: CloudEvent, position: int, now: datetime
) -> dict[str, Any]:
    """A new message of `event` for an endpoint, its first attempt due now."""
    return {
        "id": new_id("webhook_message"),
        "endpoint_id": endpoint_id,
        "event_id": event.id,
        "event_type": event.type,
        "subject": event.subject,
        "position": position,
        "event_time": event.time,
        "payload": event.model_dump_json(),
        "status": MessageStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def insert_new_messages(dialect: str) -> Insert:
    """An insert of messages that skips those already kept for their (endpoint, event)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(WebhookMessageRow).on_conflict_do_nothing(
        index_elements=["endpoint_id", "event_id"]
    )


class WebhookFanout:
    """Implements `events.sink.EventSink`."""

    name = "webhooks"

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock

    async def publish(self, events: Sequence[CloudEvent]) -> None:
        if not events:
            return
        now = self.clock()
        async with self.sessionmaker.begin() as session:
            endpoints = list(
                await session.scalars(
                    select(WebhookEndpointRow).where(
                        WebhookEndpointRow.status == EndpointStatus.ENABLED
                    )
                )
            )
            if not endpoints:
                return
            last = await session.scalar(select(func.max(WebhookMessageRow.position)))
            values = [
                message_values(endpoint.id, event, (last or 0) + number, now)
                for number, event in enumerate(events, start=1)
                for endpoint in endpoints
                if matches(endpoint, event)
            ]
            if values:
                dialect = session.get_bind().dialect.name
                await session.execute(insert_new_messages(dialect), values)
