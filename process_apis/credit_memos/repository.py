"""SQL for credit memos."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from core.models.credit_memo import CreditMemoRow
from core.models.workflow_run import StepStatus, WorkflowStepRow


async def get_credit_memo(
    session: AsyncSession, credit_memo_id: str, *, for_update: bool = False
) -> CreditMemoRow:
    query = select(CreditMemoRow).where(CreditMemoRow.id == credit_memo_id)
    if for_update:
        query = query.with_for_update()
    memo = await session.scalar(query)
    if memo is None:
        raise NotFound(f"no credit memo {credit_memo_id}")
    return memo


async def succeeded_step(session: AsyncSession, run_id: str, name: str) -> WorkflowStepRow | None:
    """The run's step `name`, if it succeeded."""
    step: WorkflowStepRow | None = await session.scalar(
        select(WorkflowStepRow).where(
            WorkflowStepRow.run_id == run_id,
            WorkflowStepRow.name == name,
            WorkflowStepRow.status == StepStatus.SUCCEEDED,
        )
    )
    return step
