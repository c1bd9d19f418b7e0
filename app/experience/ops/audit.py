"""`GET /ops/v1/audit`: the audit trail, filtered, newest first, cursor-paginated."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import Field
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import requires
from core.canonical.base import Instant, OutputModel
from core.models.audit_event import AuditEventRow
from core.pagination import DEFAULT_PAGE_SIZE, Cursor, Page, PageSize, keyset_page
from core.problems import problem_responses
from process_apis.deps import SessionDep

router = APIRouter(prefix="/ops/v1/audit", tags=["ops"])


class AuditEvent(OutputModel):
    id: str
    occurred_at: datetime
    client_id: str | None
    partner_id: str | None
    action: str
    object_id: str | None
    outcome: str
    status_code: int
    correlation_id: str | None
    request_hash: str | None
    source_ip: str | None
    count: int = Field(
        description="Requests the event stands for: 1, or a minute's failed authentications "
        "from `source_ip`."
    )


class AuditFilters:
    def __init__(
        self,
        client_id: Annotated[str | None, Query(max_length=80)] = None,
        action: Annotated[str | None, Query(max_length=120, examples=["POST /v1/invoices"])] = None,
        object_id: Annotated[str | None, Query(max_length=80)] = None,
        outcome: Annotated[
            str | None, Query(pattern="^(succeeded|rejected|failed|denied)$")
        ] = None,
        since: Annotated[Instant | None, Query(description="Inclusive lower bound.")] = None,
        until: Annotated[Instant | None, Query(description="Exclusive upper bound.")] = None,
    ) -> None:
        self.conditions: list[ColumnElement[bool]] = []
        for column, value in (
            (AuditEventRow.client_id, client_id),
            (AuditEventRow.action, action),
            (AuditEventRow.object_id, object_id),
            (AuditEventRow.outcome, outcome),
        ):
            if value is not None:
                self.conditions.append(column == value)
        if since is not None:
            self.conditions.append(AuditEventRow.occurred_at >= since)
        if until is not None:
            self.conditions.append(AuditEventRow.occurred_at < until)


async def list_events(
    session: AsyncSession, filters: AuditFilters, *, cursor: str | None, limit: int
) -> Page[AuditEvent]:
    query = select(AuditEventRow).where(*filters.conditions)
    rows, cursor_out = await keyset_page(
        session, query, AuditEventRow.id, cursor=cursor, limit=limit
    )
    return Page[AuditEvent](
        items=[AuditEvent.model_validate(row) for row in rows], next_cursor=cursor_out
    )


@router.get(
    "",
    response_model=Page[AuditEvent],
    operation_id="ops-audit-list",
    summary="List audit events",
    dependencies=[requires("audit:read")],
    responses=problem_responses(400, 401, 403, 422),
)
async def list_audit_events(
    session: SessionDep,
    filters: Annotated[AuditFilters, Depends()],
    cursor: Cursor = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> Page[AuditEvent]:
    """Writes and refused authentications, newest first; follow `next_cursor` for more."""
    return await list_events(session, filters, cursor=cursor, limit=limit)
