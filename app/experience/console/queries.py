"""The console's read queries: exception-queue filters and keyset pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Query
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import id_pattern
from core.models.legal_entity import LegalEntityRow
from core.models.workflow_run import WorkflowRunRow
from core.pagination import keyset_page
from process_apis.runs.queue import queue_condition

PAGE_SIZE = 50
LegalEntity = Annotated[str | None, Query(pattern=id_pattern("legal_entity"))]


@dataclass(frozen=True)
class QueueFilters:
    error_class: str | None = None
    workflow: str | None = None
    legal_entity: str | None = None
    min_age_hours: int | None = None

    def conditions(self, now: datetime) -> list[ColumnElement[bool]]:
        found = [queue_condition(now)]
        if self.error_class:
            found.append(WorkflowRunRow.error_class == self.error_class)
        if self.workflow:
            found.append(WorkflowRunRow.workflow == self.workflow)
        if self.legal_entity:
            found.append(WorkflowRunRow.legal_entity_id == self.legal_entity)
        if self.min_age_hours:
            found.append(WorkflowRunRow.created_at <= now - timedelta(hours=self.min_age_hours))
        return found


async def queue_page(
    session: AsyncSession, filters: QueueFilters, *, now: datetime, cursor: str | None
) -> tuple[list[WorkflowRunRow], str | None]:
    query = select(WorkflowRunRow).where(*filters.conditions(now))
    return await keyset_page(session, query, WorkflowRunRow.id, cursor=cursor, limit=PAGE_SIZE)


async def legal_entities(session: AsyncSession) -> list[tuple[str, str]]:
    """Every legal entity as (id, code), by code: the choices of a legal-entity filter."""
    rows = await session.execute(
        select(LegalEntityRow.id, LegalEntityRow.code).order_by(LegalEntityRow.code)
    )
    return [(entity_id, code) for entity_id, code in rows]
