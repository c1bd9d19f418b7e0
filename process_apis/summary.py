"""The business summary of a period, computed from persisted runs and documents.

Straight-through processing (STP) is the share of runs that succeeded on their first
attempt, with no retry and no person involved.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.canonical.documents import InvoiceStatus
from app.core.models.base import utcnow
from app.core.models.invoice import InvoiceRow
from app.core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.queue import queue_condition
from process_apis.reconciliation import month_bounds


class WorkflowFigures(BaseModel):
    workflow: str
    runs: int
    succeeded: int
    straight_through: int = Field(description="Succeeded on the first attempt.")
    success_ratio: float | None
    straight_through_ratio: float | None


class QueueFigures(BaseModel):
    error_class: str
    depth: int
    oldest_age_seconds: int


class Summary(BaseModel):
    period_start: datetime
    period_end: datetime
    workflows: list[WorkflowFigures]
    invoices_posted: int
    invoice_to_posting_seconds_avg: float | None = Field(
        description="Mean time from registering an invoice to its ERP acknowledgement."
    )
    queue: list[QueueFigures] = Field(description="The exception queue now, by error class.")


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


async def summarize(session: AsyncSession, *, period: str) -> Summary:
    first, last = month_bounds(period)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, 23, 59, 59, 999999, tzinfo=UTC)
    succeeded = WorkflowRunRow.status == RunStatus.SUCCEEDED
    rows = await session.execute(
        select(
            WorkflowRunRow.workflow,
            func.count(),
            func.count().filter(succeeded),
            func.count().filter(succeeded, WorkflowRunRow.attempts == 1),
        )
        .where(WorkflowRunRow.created_at >= start, WorkflowRunRow.created_at <= end)
        .group_by(WorkflowRunRow.workflow)
        .order_by(WorkflowRunRow.workflow)
    )
    workflows = [
        WorkflowFigures(
            workflow=workflow,
            runs=runs,
            succeeded=ok,
            straight_through=stp,
            success_ratio=_ratio(ok, runs),
            straight_through_ratio=_ratio(stp, runs),
        )
        for workflow, runs, ok, stp in rows.all()
    ]
    posted = list(
        await session.execute(
            select(InvoiceRow.created_at, InvoiceRow.posted_at).where(
                InvoiceRow.status.in_((InvoiceStatus.POSTED, InvoiceStatus.PAID)),
                InvoiceRow.posted_at >= start,
                InvoiceRow.posted_at <= end,
            )
        )
    )
    latencies = [
        (posted_at - created).total_seconds() for created, posted_at in posted if posted_at
    ]
    now = utcnow()
    queued = await session.execute(
        select(WorkflowRunRow.error_class, func.count(), func.min(WorkflowRunRow.created_at))
        .where(queue_condition(now))
        .group_by(WorkflowRunRow.error_class)
    )
    return Summary(
        period_start=start,
        period_end=end,
        workflows=workflows,
        invoices_posted=len(latencies),
        invoice_to_posting_seconds_avg=round(sum(latencies) / len(latencies), 3)
        if latencies
        else None,
        queue=[
            QueueFigures(
                error_class=error_class or "unclassified",
                depth=depth,
                oldest_age_seconds=int((now - _aware(oldest)).total_seconds()),
            )
            for error_class, depth, oldest in queued.all()
        ],
    )


def _aware(moment: datetime) -> datetime:
    """Aggregates bypass the column type on SQLite, which hands back naive UTC text."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
