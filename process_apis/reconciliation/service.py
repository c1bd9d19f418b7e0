"""Run a reconciliation of one legal entity's month, keep its report, read past ones.

A run is recorded first (`running`); each side is staged with no transaction open
while a backend is awaited; the comparison streams the staged documents key by key,
writing each difference as it is found; the run ends `completed` with its control
totals (or `failed` with the error), and its staged documents are deleted.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import NotFound
from core.ids import new_id
from core.models.base import utcnow
from core.models.reconciliation import ReconciliationDifferenceRow, ReconciliationRunRow
from events.outbox import record
from events.schemas import reconciliation as reconciliation_events
from process_apis.deps import ProcessContext
from process_apis.legal_entities.repository import get_legal_entity
from process_apis.reconciliation import staging
from process_apis.reconciliation.compare import Totals, differences
from process_apis.reconciliation.periods import month_bounds
from process_apis.reconciliation.schemas import (
    CAUSES,
    Cause,
    CurrencyTotals,
    Difference,
    DifferenceKind,
    Reconciliation,
    ReconciliationRun,
)
from process_apis.reconciliation.sources import (
    Row,
    Scope,
    billing_documents,
    erp_documents,
    gateway_adjustments,
)

RUNNING, COMPLETED, FAILED = "running", "completed", "failed"


async def reconcile(
    context: ProcessContext, *, legal_entity_id: str, period: str, trigger: str = "api"
) -> Reconciliation:
    """Reconcile the month now; the report is kept whatever the outcome."""
    start, end = month_bounds(period)
    sessionmaker = context.sessionmaker
    async with sessionmaker() as session:
        entity = await get_legal_entity(session, legal_entity_id)
        run = ReconciliationRunRow(
            id=new_id("reconciliation"),
            legal_entity_id=legal_entity_id,
            period=period,
            trigger=trigger,
            status=RUNNING,
            started_at=utcnow(),
            difference_count=0,
            totals=[],
        )
        session.add(run)
        await session.commit()
    scope = Scope(
        run_id=run.id,
        legal_entity_id=legal_entity_id,
        company_id=entity.erp_company_id,
        functional_currency=entity.functional_currency,
        start=start,
        end=end,
    )
    ledger = context.settings.ledger
    try:
        await staging.stage_gateway(sessionmaker, scope)
        await staging.stage(sessionmaker, gateway_adjustments(sessionmaker, scope))
        await staging.stage(
            sessionmaker,
            erp_documents(
                context.erp,
                scope,
                payment_journal=ledger.payment_journal,
                payable_account=ledger.commission_payable_account,
            ),
        )
        await staging.stage(sessionmaker, billing_documents(context.billing, scope))
        await staging.link_billing(sessionmaker, scope)
        totals, count = await _compare(sessionmaker, run.id)
    except Exception as error:
        await _finish(sessionmaker, run.id, status=FAILED, error=str(error)[:500])
        raise
    finally:
        await staging.discard(sessionmaker, run.id)
    await _finish(sessionmaker, run.id, status=COMPLETED, totals=totals, count=count)
    return await report(
        sessionmaker, run.id, limit=context.settings.reconciliation.report_differences
    )


async def _compare(
    sessionmaker: async_sessionmaker[AsyncSession], run_id: str
) -> tuple[list[CurrencyTotals], int]:
    """Stream the staged keys, total them, and write each difference as it is found."""
    totals = Totals()
    batch: list[Row] = []
    count = 0
    async with sessionmaker() as session:
        async for group in staging.grouped(session, run_id):
            totals.add(group)
            for difference in differences(group):
                count += 1
                batch.append({"run_id": run_id, "sequence": count, **_stored(difference)})
            if len(batch) >= staging.BATCH:
                await _write_differences(sessionmaker, batch)
                batch = []
    if batch:
        await _write_differences(sessionmaker, batch)
    return totals.report(), count


def _stored(difference: Difference) -> Row:
    return difference.model_dump(exclude={"explanation"})


async def _write_differences(
    sessionmaker: async_sessionmaker[AsyncSession], batch: list[Row]
) -> None:
    async with sessionmaker.begin() as session:
        await session.execute(insert(ReconciliationDifferenceRow), batch)


async def _finish(
    sessionmaker: async_sessionmaker[AsyncSession],
    run_id: str,
    *,
    status: str,
    totals: list[CurrencyTotals] | None = None,
    count: int = 0,
    error: str | None = None,
) -> None:
    async with sessionmaker.begin() as session:
        run = await session.get_one(ReconciliationRunRow, run_id)
        run.status = status
        run.finished_at = utcnow()
        run.error = error
        if totals is not None:
            run.totals = [line.model_dump() for line in totals]
            run.difference_count = count
            run.clean = count == 0
        if status == COMPLETED:
            await record(session, reconciliation_events.completed(run))


async def report(
    sessionmaker: async_sessionmaker[AsyncSession], run_id: str, *, limit: int
) -> Reconciliation:
    """A kept run's report with its first `limit` differences."""
    async with sessionmaker() as session:
        run = await session.get(ReconciliationRunRow, run_id)
        if run is None:
            raise NotFound(f"no reconciliation run {run_id}")
        rows = await session.scalars(
            select(ReconciliationDifferenceRow)
            .where(ReconciliationDifferenceRow.run_id == run_id)
            .order_by(ReconciliationDifferenceRow.sequence)
            .limit(limit)
        )
        found = [_difference(row) for row in rows]
    start, end = month_bounds(run.period)
    return Reconciliation(
        id=run.id,
        legal_entity_id=run.legal_entity_id,
        period=run.period,
        period_start=start,
        period_end=end,
        started_at=run.started_at,
        finished_at=run.finished_at,
        trigger=run.trigger,
        totals=[CurrencyTotals.model_validate(line) for line in run.totals],
        difference_count=run.difference_count,
        differences=found,
        clean=bool(run.clean),
    )


def _difference(row: ReconciliationDifferenceRow) -> Difference:
    cause = Cause(row.cause)
    return Difference(
        kind=DifferenceKind(row.kind),
        document_type=row.document_type,
        cause=cause,
        explanation=CAUSES[cause],
        key=row.key,
        gateway_id=row.gateway_id,
        billing_id=row.billing_id,
        erp_number=row.erp_number,
        currency=row.currency,
        gateway_amount=row.gateway_amount,
        billing_amount=row.billing_amount,
        erp_amount=row.erp_amount,
    )


async def list_runs(
    session: AsyncSession,
    *,
    legal_entity_id: str | None = None,
    period: str | None = None,
    limit: int = 50,
) -> list[ReconciliationRun]:
    """The latest runs, newest first."""
    query = select(ReconciliationRunRow).order_by(ReconciliationRunRow.started_at.desc())
    if legal_entity_id is not None:
        query = query.where(ReconciliationRunRow.legal_entity_id == legal_entity_id)
    if period is not None:
        query = query.where(ReconciliationRunRow.period == period)
    rows = await session.scalars(query.limit(limit))
    return [ReconciliationRun.model_validate(row, from_attributes=True) for row in rows]


async def scheduled_today(
    session: AsyncSession, *, legal_entity_id: str, period: str, today: datetime
) -> bool:
    """Whether the schedule already reconciled this month of this entity today."""
    since = datetime.combine(today.date(), time(), tzinfo=UTC)
    found = await session.scalar(
        select(func.count())
        .select_from(ReconciliationRunRow)
        .where(
            ReconciliationRunRow.legal_entity_id == legal_entity_id,
            ReconciliationRunRow.period == period,
            ReconciliationRunRow.trigger == "schedule",
            ReconciliationRunRow.started_at >= since,
        )
    )
    return bool(found)
