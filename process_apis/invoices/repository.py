"""SQL for invoices."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.errors import NotFound
from core.models.invoice import InvoiceRow
from core.models.workflow_run import RunStatus, WorkflowRunRow


async def get_invoice(
    session: AsyncSession, invoice_id: str, *, for_update: bool = False
) -> InvoiceRow:
    query = (
        select(InvoiceRow)
        .where(InvoiceRow.id == invoice_id)
        .options(selectinload(InvoiceRow.lines))
    )
    if for_update:
        query = query.with_for_update()
    invoice = await session.scalar(query)
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id}")
    return invoice


async def latest_run(
    session: AsyncSession, *, workflow: str, subject_id: str
) -> WorkflowRunRow | None:
    return await session.scalar(
        select(WorkflowRunRow)
        .where(WorkflowRunRow.workflow == workflow, WorkflowRunRow.subject_id == subject_id)
        .order_by(WorkflowRunRow.created_at.desc(), WorkflowRunRow.id.desc())
        .limit(1)
    )


async def count_runs(
    session: AsyncSession, *, workflow: str, subject_id: str, status: RunStatus
) -> int:
    """How many runs of `workflow` on the subject ended in `status`."""
    count = await session.scalar(
        select(func.count())
        .select_from(WorkflowRunRow)
        .where(
            WorkflowRunRow.workflow == workflow,
            WorkflowRunRow.subject_id == subject_id,
            WorkflowRunRow.status == status,
        )
    )
    return count or 0
