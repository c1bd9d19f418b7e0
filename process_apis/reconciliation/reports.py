"""A kept run's report: its totals, its document differences and its catalog drift."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import NotFound
from core.models.reconciliation import ReconciliationDifferenceRow as DifferenceRow
from core.models.reconciliation import ReconciliationRunRow
from process_apis.reconciliation.periods import month_bounds
from process_apis.reconciliation.schemas import (
    CATALOG_CAUSES,
    CAUSES,
    CatalogCause,
    CatalogDifference,
    CatalogDrift,
    CatalogKind,
    CatalogObject,
    Cause,
    CurrencyTotals,
    Difference,
    DifferenceKind,
    Reconciliation,
)

CATALOG_TYPES = tuple(kind.value for kind in CatalogObject)


async def report(
    sessionmaker: async_sessionmaker[AsyncSession], run_id: str, *, limit: int
) -> Reconciliation:
    """A kept run's report with its first `limit` differences and catalog differences."""
    async with sessionmaker() as session:
        run = await session.get(ReconciliationRunRow, run_id)
        if run is None:
            raise NotFound(f"no reconciliation run {run_id}")
        documents = await _rows(
            session, run_id, DifferenceRow.document_type.not_in(CATALOG_TYPES), limit
        )
        catalog = await _rows(
            session, run_id, DifferenceRow.document_type.in_(CATALOG_TYPES), limit
        )
        drift = await _drift(session, run_id)
    start, end = month_bounds(run.period)
    totals = [CurrencyTotals.model_validate(line) for line in run.totals]
    return Reconciliation(
        id=run.id,
        legal_entity_id=run.legal_entity_id,
        period=run.period,
        period_start=start,
        period_end=end,
        started_at=run.started_at,
        finished_at=run.finished_at,
        trigger=run.trigger,
        totals=[line for line in totals if line.document_type not in CATALOG_TYPES],
        difference_count=run.difference_count,
        differences=[_difference(row) for row in documents],
        clean=bool(run.clean),
        catalog_difference_count=run.catalog_difference_count,
        catalog_differences=[_catalog_difference(row) for row in catalog],
        catalog_totals=[line for line in totals if line.document_type in CATALOG_TYPES],
        catalog_drift=drift,
    )


async def _rows(
    session: AsyncSession, run_id: str, condition: ColumnElement[bool], limit: int
) -> list[DifferenceRow]:
    rows = await session.scalars(
        select(DifferenceRow)
        .where(DifferenceRow.run_id == run_id, condition)
        .order_by(DifferenceRow.sequence)
        .limit(limit)
    )
    return list(rows)


async def _drift(session: AsyncSession, run_id: str) -> list[CatalogDrift]:
    """How many products and prices drifted, by cause."""
    counts = await session.execute(
        select(DifferenceRow.document_type, DifferenceRow.cause, func.count())
        .where(DifferenceRow.run_id == run_id, DifferenceRow.document_type.in_(CATALOG_TYPES))
        .group_by(DifferenceRow.document_type, DifferenceRow.cause)
        .order_by(DifferenceRow.document_type, DifferenceRow.cause)
    )
    return [
        CatalogDrift(object_type=CatalogObject(kind), cause=CatalogCause(cause), count=count)
        for kind, cause, count in counts.all()
    ]


def _difference(row: DifferenceRow) -> Difference:
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


def _catalog_difference(row: DifferenceRow) -> CatalogDifference:
    cause = CatalogCause(row.cause)
    return CatalogDifference(
        object_type=CatalogObject(row.document_type),
        kind=CatalogKind(row.kind),
        cause=cause,
        explanation=CATALOG_CAUSES[cause],
        gateway_id=row.key,
        erp_item=row.erp_number,
        billing_id=row.billing_id,
        currency=row.currency,
        gateway_amount=row.gateway_amount,
        erp_amount=row.erp_amount,
        billing_amount=row.billing_amount,
        gateway_value=row.gateway_value,
        erp_value=row.erp_value,
        billing_value=row.billing_value,
    )
