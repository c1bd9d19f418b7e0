"""Run a reconciliation of one legal entity's month, keep its report, read past ones.

A run is recorded first (`running`); each side is staged with no transaction open
while a backend is awaited; the comparison streams the staged documents key by key,
writing each difference as it is found; then the legal entity's catalog is compared
(`catalog`), then its usage billing invoiced against what the gateway reported
(`usage`), then its deferred revenue, the schedules' against the ERP's (`revenue`); the
run ends `completed` with its control totals (or `failed` with the error), and its
staged documents are deleted. `reports` reads a kept run back.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.ids import new_id
from core.models.base import utcnow
from core.models.reconciliation import ReconciliationDifferenceRow, ReconciliationRunRow
from events.outbox import record
from events.schemas import reconciliation as reconciliation_events
from process_apis.deps import ProcessContext
from process_apis.legal_entities.repository import get_legal_entity
from process_apis.reconciliation import staging
from process_apis.reconciliation.catalog import CatalogReport, catalog_drift, entity_catalog
from process_apis.reconciliation.compare import Totals, differences
from process_apis.reconciliation.disputes import erp_dispute_journals, gateway_disputes
from process_apis.reconciliation.lineage import LINEAGE_CHECKS
from process_apis.reconciliation.periods import month_bounds
from process_apis.reconciliation.reports import report
from process_apis.reconciliation.revenue import RevenueCheck, revenue_check
from process_apis.reconciliation.schemas import (
    CatalogDifference,
    CurrencyTotals,
    Difference,
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
from process_apis.reconciliation.usage import usage_differences

RUNNING, COMPLETED, FAILED = "running", "completed", "failed"


async def reconcile(
    context: ProcessContext, *, legal_entity_id: str, period: str, trigger: str = "api"
) -> Reconciliation:
    """Reconcile the month now; the report is kept whatever the outcome."""
    start, end = month_bounds(period)
    sessionmaker = context.sessionmaker
    scope = await _start(sessionmaker, legal_entity_id, period, trigger, start=start, end=end)
    try:
        await _stage(context, scope)
        totals, count = await _compare(sessionmaker, scope.run_id)
        count += await _lineage(sessionmaker, scope, after=count)
        catalog = await _catalog(context, scope, after=count)
        count += await _usage(sessionmaker, scope, after=count + len(catalog.differences))
        revenue = await _revenue(context, scope, period, after=count + len(catalog.differences))
        count += len(revenue.differences)
    except Exception as error:
        await _finish(sessionmaker, scope.run_id, status=FAILED, error=str(error)[:500])
        raise
    finally:
        await staging.discard(sessionmaker, scope.run_id)
    await _finish(
        sessionmaker,
        scope.run_id,
        status=COMPLETED,
        totals=totals + revenue.totals + catalog.totals,
        count=count,
        catalog_count=len(catalog.differences),
    )
    return await report(
        sessionmaker, scope.run_id, limit=context.settings.reconciliation.report_differences
    )


async def _start(
    sessionmaker: async_sessionmaker[AsyncSession],
    legal_entity_id: str,
    period: str,
    trigger: str,
    *,
    start: date,
    end: date,
) -> Scope:
    """Record the run (`running`) and the scope each backend knows it by."""
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
    return Scope(
        run_id=run.id,
        legal_entity_id=legal_entity_id,
        company_id=entity.erp_company_id,
        functional_currency=entity.functional_currency,
        start=start,
        end=end,
    )


async def _stage(context: ProcessContext, scope: Scope) -> None:
    """Stage every side's documents of the period, and key billing's by the gateway's."""
    sessionmaker = context.sessionmaker
    ledger = context.settings.ledger
    await staging.stage_gateway(sessionmaker, scope)
    await staging.stage(sessionmaker, gateway_adjustments(sessionmaker, scope))
    await staging.stage(sessionmaker, gateway_disputes(sessionmaker, scope))
    await staging.stage(
        sessionmaker,
        erp_documents(
            context.erp,
            scope,
            payment_journal=ledger.payment_journal,
            payable_account=ledger.commission_payable_account,
        ),
    )
    await staging.stage(
        sessionmaker, erp_dispute_journals(context.erp, scope, bank_account=ledger.bank_account)
    )
    await staging.stage(sessionmaker, billing_documents(context.billing, scope))
    await staging.link_billing(sessionmaker, scope)


async def _lineage(
    sessionmaker: async_sessionmaker[AsyncSession], scope: Scope, *, after: int
) -> int:
    """Run the lineage checks; their differences are written after the documents' (`after`
    of them). How many there were."""
    async with sessionmaker() as session:
        found = [d for check in LINEAGE_CHECKS for d in await check(session, scope)]
    rows = [
        {"run_id": scope.run_id, "sequence": after + number, **_stored(difference)}
        for number, difference in enumerate(found, start=1)
    ]
    if rows:
        await _write_differences(sessionmaker, rows)
    return len(rows)


async def _catalog(context: ProcessContext, scope: Scope, *, after: int) -> CatalogReport:
    """Compare the legal entity's catalog; its differences are written after the
    documents' (`after` of them)."""
    async with context.sessionmaker() as session:
        catalog = await entity_catalog(session, scope.functional_currency)
    found = await catalog_drift(
        context.erp,
        context.billing,
        catalog,
        company_id=scope.company_id,
        currency=scope.functional_currency,
    )
    rows = [
        {"run_id": scope.run_id, "sequence": after + number, **_stored_catalog(difference)}
        for number, difference in enumerate(found.differences, start=1)
    ]
    if rows:
        await _write_differences(context.sessionmaker, rows)
    return found


async def _usage(
    sessionmaker: async_sessionmaker[AsyncSession], scope: Scope, *, after: int
) -> int:
    """Write the usage differences after the others (`after` of them); how many."""
    async with sessionmaker() as session:
        found = await usage_differences(session, scope)
    rows = [
        {"run_id": scope.run_id, "sequence": after + number, **_stored(difference)}
        for number, difference in enumerate(found, start=1)
    ]
    if rows:
        await _write_differences(sessionmaker, rows)
    return len(rows)


async def _revenue(
    context: ProcessContext, scope: Scope, period: str, *, after: int
) -> RevenueCheck:
    """Write the deferred revenue differences after the others (`after` of them)."""
    found = await revenue_check(context, scope, period)
    rows = [
        {"run_id": scope.run_id, "sequence": after + number, **_stored(difference)}
        for number, difference in enumerate(found.differences, start=1)
    ]
    if rows:
        await _write_differences(context.sessionmaker, rows)
    return found


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


def _stored_catalog(difference: CatalogDifference) -> Row:
    return {
        "document_type": difference.object_type.value,
        "key": difference.gateway_id,
        "erp_number": difference.erp_item,
        **difference.model_dump(exclude={"explanation", "object_type", "erp_item"}),
    }


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
    catalog_count: int = 0,
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
            run.catalog_difference_count = catalog_count
            run.clean = count == 0 and catalog_count == 0
        if status == COMPLETED:
            await record(session, reconciliation_events.completed(run))


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
