"""Reading back what a workflow persisted, for assertions."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.models.workflow_run import WorkflowRunRow
from process_apis.runs.repository import get_run


async def stored_run(sessionmaker: async_sessionmaker[AsyncSession], run_id: str) -> WorkflowRunRow:
    """The run with its steps, as committed."""
    async with sessionmaker() as session:
        return await get_run(session, run_id)


async def runs_of(
    sessionmaker: async_sessionmaker[AsyncSession], workflow: str, subject_id: str
) -> list[WorkflowRunRow]:
    """Every run of the workflow on the subject, oldest first."""
    async with sessionmaker() as session:
        found = await session.scalars(
            select(WorkflowRunRow)
            .where(WorkflowRunRow.workflow == workflow, WorkflowRunRow.subject_id == subject_id)
            .order_by(WorkflowRunRow.created_at, WorkflowRunRow.id)
        )
        return list(found)


def step_statuses(run: WorkflowRunRow) -> list[tuple[str, str]]:
    """Each step's name and status, in declared order."""
    return [(step.name, step.status) for step in sorted(run.steps, key=lambda s: s.sequence)]
