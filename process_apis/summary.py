"""The business summary of a period, computed from persisted runs and documents.

Straight-through processing (STP) is the share of runs that succeeded on their first
attempt, with no retry and no person involved. Latencies count the events that ended in
the period: invoices posted, subscriptions first invoiced, settlements journaled.
Order-to-invoice runs from a subscription's order to the registration of its first
invoice; settlement cycle time from the close of a statement's period to its ERP
journal posting (see `settlements.posting.cycle_seconds`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.documents import InvoiceStatus, SettlementStatus
from core.models.base import utcnow
from core.models.invoice import InvoiceRow
from core.models.settlement import SettlementRow
from core.models.subscription import SubscriptionRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.reconciliation.periods import month_bounds
from process_apis.runs.queue import queue_condition
from process_apis.settlements.workflow import cycle_seconds


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
    subscriptions_invoiced: int = Field(
        description="Subscriptions whose first invoice was registered in the period."
    )
    order_to_invoice_seconds_avg: float | None = Field(
        description="Mean time from a subscription's order to its first invoice."
    )
    settlements_posted: int
    settlement_cycle_seconds_avg: float | None = Field(
        description="Mean time from the close of a statement's period (the next day, 00:00 "
        "UTC) to its ERP journal posting; a statement posted before its period closed "
        "counts 0."
    )
    queue: list[QueueFigures] = Field(description="The exception queue now, by error class.")


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


async def summarize(session: AsyncSession, *, period: str) -> Summary:
    first, last = month_bounds(period)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, 23, 59, 59, 999999, tzinfo=UTC)
    latencies = await posting_latencies(session, start, end)
    order_to_invoice = await _order_to_invoice(session, start, end)
    cycles = await _settlement_cycles(session, start, end)
    return Summary(
        period_start=start,
        period_end=end,
        workflows=await _workflows(session, start, end),
        invoices_posted=len(latencies),
        invoice_to_posting_seconds_avg=_mean(latencies),
        subscriptions_invoiced=len(order_to_invoice),
        order_to_invoice_seconds_avg=_mean(order_to_invoice),
        settlements_posted=len(cycles),
        settlement_cycle_seconds_avg=_mean(cycles),
        queue=await _queue(session),
    )


async def _workflows(
    session: AsyncSession, start: datetime, end: datetime
) -> list[WorkflowFigures]:
    """Runs started in the period, per workflow: how many, succeeded, straight through."""
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
    return [
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


async def posting_latencies(session: AsyncSession, start: datetime, end: datetime) -> list[float]:
    """Seconds from registration to ERP acknowledgement of the invoices posted in the period."""
    posted = list(
        await session.execute(
            select(InvoiceRow.created_at, InvoiceRow.posted_at).where(
                InvoiceRow.status.in_((InvoiceStatus.POSTED, InvoiceStatus.PAID)),
                InvoiceRow.posted_at >= start,
                InvoiceRow.posted_at <= end,
            )
        )
    )
    return [(posted_at - created).total_seconds() for created, posted_at in posted if posted_at]


async def _order_to_invoice(session: AsyncSession, start: datetime, end: datetime) -> list[float]:
    """Seconds from order to first invoice of the subscriptions first invoiced in the period."""
    first_invoices = (
        select(
            InvoiceRow.subscription_id,
            func.min(InvoiceRow.created_at).label("invoiced_at"),
        )
        .where(InvoiceRow.subscription_id.is_not(None))
        .group_by(InvoiceRow.subscription_id)
        .subquery()
    )
    ordered = await session.execute(
        select(SubscriptionRow.created_at, first_invoices.c.invoiced_at)
        .join(first_invoices, first_invoices.c.subscription_id == SubscriptionRow.id)
        .where(first_invoices.c.invoiced_at >= start, first_invoices.c.invoiced_at <= end)
    )
    return [
        (_aware(invoiced_at) - created).total_seconds() for created, invoiced_at in ordered.all()
    ]


async def _settlement_cycles(session: AsyncSession, start: datetime, end: datetime) -> list[float]:
    """Cycle times of the statements journaled in the period."""
    journaled = await session.execute(
        select(SettlementRow.period_end, SettlementRow.posted_at).where(
            SettlementRow.status.in_((SettlementStatus.POSTED, SettlementStatus.PAID)),
            SettlementRow.posted_at >= start,
            SettlementRow.posted_at <= end,
        )
    )
    return [
        cycle_seconds(period_end, posted_at)
        for period_end, posted_at in journaled.all()
        if posted_at is not None
    ]


async def _queue(session: AsyncSession) -> list[QueueFigures]:
    """The exception queue now: depth and oldest age per error class."""
    now = utcnow()
    queued = await session.execute(
        select(WorkflowRunRow.error_class, func.count(), func.min(WorkflowRunRow.created_at))
        .where(queue_condition(now))
        .group_by(WorkflowRunRow.error_class)
    )
    return [
        QueueFigures(
            error_class=error_class or "unclassified",
            depth=depth,
            oldest_age_seconds=int((now - _aware(oldest)).total_seconds()),
        )
        for error_class, depth, oldest in queued.all()
    ]


def _aware(moment: datetime) -> datetime:
    """Aggregates bypass the column type on SQLite, which hands back naive UTC text."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
