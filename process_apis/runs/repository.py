"""SQL for workflow runs and their steps."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.errors import NotFound
from core.ids import new_id
from core.models.base import utcnow
from core.models.workflow_run import RunStatus, StepStatus, WorkflowRunRow, WorkflowStepRow


def is_leased(run: WorkflowRunRow) -> bool:
    """A `running` run whose lease has not passed: some process is executing it now."""
    return (
        run.status == RunStatus.RUNNING
        and run.next_attempt_at is not None
        and run.next_attempt_at > utcnow()
    )


async def get_run(session: AsyncSession, run_id: str) -> WorkflowRunRow:
    """A run with its steps, or 404."""
    run = await session.scalar(
        select(WorkflowRunRow)
        .where(WorkflowRunRow.id == run_id)
        .options(selectinload(WorkflowRunRow.steps))
    )
    if run is None:
        raise NotFound(f"no workflow run {run_id}")
    return run


async def latest_run(
    session: AsyncSession, *, workflow: str, subject_id: str
) -> WorkflowRunRow | None:
    """The subject's most recent run of `workflow`."""
    return await session.scalar(
        select(WorkflowRunRow)
        .where(WorkflowRunRow.workflow == workflow, WorkflowRunRow.subject_id == subject_id)
        .order_by(WorkflowRunRow.created_at.desc(), WorkflowRunRow.id.desc())
        .limit(1)
    )


async def step_row(session: AsyncSession, run_id: str, name: str) -> WorkflowStepRow:
    """The run's step of that name: the row of an earlier attempt, or a new one."""
    step = await session.scalar(
        select(WorkflowStepRow).where(
            WorkflowStepRow.run_id == run_id, WorkflowStepRow.name == name
        )
    )
    if step is None:
        step = WorkflowStepRow(id=new_id("workflow_step"), run_id=run_id, name=name)
        session.add(step)
    return step


async def succeeded_step(session: AsyncSession, run_id: str, name: str) -> WorkflowStepRow | None:
    """The run's step `name`, if it succeeded (what it answered is its `outcome`)."""
    step: WorkflowStepRow | None = await session.scalar(
        select(WorkflowStepRow).where(
            WorkflowStepRow.run_id == run_id,
            WorkflowStepRow.name == name,
            WorkflowStepRow.status == StepStatus.SUCCEEDED,
        )
    )
    return step
