"""`GET /ops/v1/events`: the canonical events recorded, filtered, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from core.auth import requires
from core.canonical.base import Instant, OutputModel
from core.models.event_outbox import EventOutboxRow
from core.pagination import (
    DEFAULT_PAGE_SIZE,
    Cursor,
    InvalidCursor,
    Page,
    PageSize,
    decode_cursor,
    encode_cursor,
)
from core.problems import problem_responses
from events.envelope import CloudEvent
from events.query import EventFilter, newest
from process_apis.deps import SessionDep

router = APIRouter(prefix="/ops/v1/events", tags=["ops"])

EventType = Annotated[
    str | None,
    Query(
        max_length=120,
        description="Only events of this type.",
        pattern=r"^com\.ledgergate\.[a-z_]+(\.[a-z_]+)+\.v[0-9]+$",
        examples=["com.ledgergate.invoice.posted.v1"],
    ),
]


class RecordedEvent(OutputModel):
    sequence: int = Field(description="Order of recording; each subject's events in this order.")
    recorded_at: datetime
    published_at: datetime | None = Field(
        description="When every configured sink had taken it; null while one has not."
    )
    event: CloudEvent


def _recorded(row: EventOutboxRow) -> RecordedEvent:
    return RecordedEvent(
        sequence=row.sequence,
        recorded_at=row.recorded_at,
        published_at=row.published_at,
        event=CloudEvent.model_validate(row.envelope),
    )


def _before(cursor: str | None) -> int | None:
    value = decode_cursor(cursor)
    if value is not None and not value.isdigit():
        raise InvalidCursor("the cursor is malformed; restart from the first page")
    return None if value is None else int(value)


@router.get(
    "",
    response_model=Page[RecordedEvent],
    operation_id="ops-events-list",
    summary="List recorded events",
    dependencies=[requires("ops:read")],
    responses=problem_responses(400, 401, 403, 422),
)
async def list_events(
    session: SessionDep,
    type: EventType = None,  # noqa: A002 - the CloudEvents attribute's name
    subject: Annotated[
        str | None, Query(max_length=120, description="Only events about this object id.")
    ] = None,
    since: Annotated[Instant | None, Query(description="Event time, inclusive.")] = None,
    until: Annotated[Instant | None, Query(description="Event time, exclusive.")] = None,
    cursor: Cursor = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> Page[RecordedEvent]:
    """Canonical events as recorded in the outbox, newest first, with whether they are
    published yet; follow `next_cursor` for older ones."""
    filters = EventFilter(type=type, subject=subject, since=since, until=until)
    rows = await newest(session, filters, before=_before(cursor), limit=limit + 1)
    more = len(rows) > limit
    return Page[RecordedEvent](
        items=[_recorded(row) for row in rows[:limit]],
        next_cursor=encode_cursor(str(rows[limit - 1].sequence)) if more else None,
    )
