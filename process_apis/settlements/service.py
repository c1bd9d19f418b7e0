"""Drawing up settlement statements, and reading them with their lineage.

A run for a period takes every eligible, earning commission line paid up to the
period's end that no statement holds yet (late lines of earlier periods included),
groups them by partner, legal entity and currency, and draws up one statement per
group that the period does not have yet. The cost is set-based: one grouping query,
one insert and one `UPDATE ... WHERE settlement_id IS NULL` per statement and one
totals query, whatever the number of invoices and payments. A statement, once drawn
up, does not change: lines arriving later roll into the next period's statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import ColumnElement, Select, and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.base import OutputModel
from core.canonical.documents import Settlement, SettlementStatus
from core.errors import NotFound
from core.ids import new_id
from core.models.commission_line import CommissionLineRow as Line
from core.models.invoice import InvoiceLineRow, InvoiceRow
from core.models.payment import PaymentRow
from core.models.settlement import SettlementRow
from core.pagination import Page, decode_cursor, next_cursor
from process_apis.listing import ListQuery, list_rows
from process_apis.settlements.errors import SettlementRunInProgress
from process_apis.settlements.schemas import (
    CommissionLineage,
    LineageAttribution,
    LineageCommission,
    LineageEntry,
    LineageInvoiceLine,
    LineagePayment,
    LineageRateCard,
    LineageStatement,
)

StatementKey = tuple[str, str, str]  # partner, legal entity, currency


def _settleable(period_end: date) -> ColumnElement[bool]:
    return and_(
        Line.settlement_id.is_(None),
        Line.eligible.is_(True),
        Line.commission_amount > 0,
        Line.paid_on <= period_end,
    )


async def draw_up(
    session: AsyncSession, *, period_start: date, period_end: date
) -> tuple[Sequence[SettlementRow], int]:
    """The period's statements, drawing up the missing ones; and how many were new."""
    groups = (
        await session.execute(
            select(Line.partner_id, Line.legal_entity_id, Line.currency)
            .where(_settleable(period_end))
            .group_by(Line.partner_id, Line.legal_entity_id, Line.currency)
        )
    ).all()
    existing = {
        (row.partner_id, row.legal_entity_id, row.currency): row
        for row in await period_settlements(session, period_start)
    }
    drawn: dict[str, SettlementRow] = {}
    for partner_id, legal_entity_id, currency in groups:
        if (partner_id, legal_entity_id, currency) in existing:
            continue
        settlement = SettlementRow(
            id=new_id("settlement"),
            partner_id=partner_id,
            legal_entity_id=legal_entity_id,
            period_start=period_start,
            period_end=period_end,
            currency=currency,
            total_commission=0,
            line_count=0,
            status=SettlementStatus.DRAFT,
        )
        session.add(settlement)
        try:
            await session.flush()
        except IntegrityError as error:
            await session.rollback()
            raise SettlementRunInProgress(
                "another run drew up this period's statements first; run it again"
            ) from error
        await session.execute(
            update(Line)
            .where(
                _settleable(period_end),
                Line.partner_id == partner_id,
                Line.legal_entity_id == legal_entity_id,
                Line.currency == currency,
            )
            .values(settlement_id=settlement.id)
        )
        drawn[settlement.id] = settlement
    if drawn:
        totals = (
            await session.execute(
                select(Line.settlement_id, func.count(), func.sum(Line.commission_amount))
                .where(Line.settlement_id.in_(drawn))
                .group_by(Line.settlement_id)
            )
        ).all()
        for settlement_id, count, total in totals:
            if settlement_id is not None:
                drawn[settlement_id].line_count = count
                drawn[settlement_id].total_commission = int(total or 0)
        for settlement in list(drawn.values()):
            if not settlement.line_count:  # a concurrent run took its lines: never committed
                await session.delete(settlement)
                del drawn[settlement.id]
    await session.flush()
    return await period_settlements(session, period_start), len(drawn)


async def period_settlements(session: AsyncSession, period_start: date) -> Sequence[SettlementRow]:
    return (
        await session.scalars(
            select(SettlementRow)
            .where(SettlementRow.period_start == period_start)
            .order_by(SettlementRow.id)
        )
    ).all()


async def get_settlement(
    session: AsyncSession, settlement_id: str, *, for_update: bool = False
) -> SettlementRow:
    query = select(SettlementRow).where(SettlementRow.id == settlement_id)
    if for_update:
        query = query.with_for_update()
    settlement = await session.scalar(query)
    if settlement is None:
        raise NotFound(f"no settlement {settlement_id}")
    return settlement


def _lineage(
    line: Line,
    payment: PaymentRow,
    invoice_line: InvoiceLineRow,
    invoice_number: str | None,
    subscription_id: str | None,
) -> dict[str, OutputModel]:
    """A commission line's lineage up to the commission itself (the statement comes apart)."""
    return {
        "payment": LineagePayment.model_validate(payment),
        "invoice_line": LineageInvoiceLine(
            invoice_id=line.invoice_id,
            subscription_id=subscription_id,
            erp_document_number=invoice_number,
            line_id=invoice_line.id,
            sequence=invoice_line.sequence,
            description=invoice_line.description,
            amount=invoice_line.amount,
        ),
        "attribution": LineageAttribution(
            partner_id=line.partner_id,
            customer_id=line.customer_id,
            deal_registration_id=line.deal_registration_id,
            eligibility_reason=line.eligibility_reason,
        ),
        "rate_card": LineageRateCard(
            plan_code=line.plan_code,
            version=line.rate_card_version,
            effective_from=line.rate_effective_from,
            product_id=line.product_id,
            product_tier=line.product_tier,
            rate_bps=line.rate_bps,
        ),
        "commission": LineageCommission(
            line_id=line.id,
            base_amount=line.base_amount,
            amount=line.commission_amount,
            currency=line.currency,
        ),
    }


def _lineage_query() -> Select[Line, PaymentRow, InvoiceLineRow, str | None, str | None]:
    return (
        select(
            Line,
            PaymentRow,
            InvoiceLineRow,
            InvoiceRow.erp_document_number,
            InvoiceRow.subscription_id,
        )
        .join(PaymentRow, PaymentRow.id == Line.payment_id)
        .join(InvoiceLineRow, InvoiceLineRow.id == Line.invoice_line_id)
        .join(InvoiceRow, InvoiceRow.id == Line.invoice_id)
    )


async def lineage(
    session: AsyncSession, settlement_id: str, *, cursor: str | None, limit: int
) -> tuple[list[LineageEntry], str | None]:
    """One page of the statement's lines with their whole lineage, in one query."""
    settlement = await get_settlement(session, settlement_id)
    query = _lineage_query().where(Line.settlement_id == settlement.id)
    if (after := decode_cursor(cursor)) is not None:
        query = query.where(Line.id < after)
    rows = (await session.execute(query.order_by(Line.id.desc()).limit(limit + 1))).all()
    statement = LineageStatement(
        settlement_id=settlement.id,
        journal_document_number=settlement.journal_document_number,
    )
    entries = [LineageEntry(**_lineage(*row), statement=statement) for row in rows[:limit]]
    return entries, next_cursor([row[0].id for row in rows], limit)


async def lineage_of(
    session: AsyncSession, line_ids: Sequence[str]
) -> dict[str, CommissionLineage]:
    """The lineage of each of `line_ids` (a page's worth), by line id, in one query."""
    rows = (
        await session.execute(
            _lineage_query()
            .add_columns(SettlementRow.journal_document_number)
            .outerjoin(SettlementRow, SettlementRow.id == Line.settlement_id)
            .where(Line.id.in_(line_ids))
        )
    ).all()
    return {
        line.id: CommissionLineage(
            **_lineage(line, payment, invoice_line, number, subscription_id),
            statement=None
            if line.settlement_id is None
            else LineageStatement(
                settlement_id=line.settlement_id, journal_document_number=journal_number
            ),
        )
        for line, payment, invoice_line, number, subscription_id, journal_number in rows
    }


async def list_settlements(
    session: AsyncSession,
    *,
    listing: ListQuery,
    status: SettlementStatus | None = None,
    partner_id: str | None = None,
) -> Page[Settlement]:
    """A page of partner statements, newest first, dated by the first day of their period."""
    rows, cursor = await list_rows(
        session,
        select(SettlementRow),
        SettlementRow.id,
        listing,
        date_column=SettlementRow.period_start,
        updated_column=SettlementRow.updated_at,
        legal_entity_column=SettlementRow.legal_entity_id,
        equal={SettlementRow.status: status, SettlementRow.partner_id: partner_id},
    )
    return Page[Settlement](
        items=[Settlement.model_validate(row) for row in rows], next_cursor=cursor
    )
