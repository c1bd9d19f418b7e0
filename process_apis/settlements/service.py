"""Drawing up settlement statements, and reading them with their lineage.

A run settles one month per legal entity, once: it records the month as settled
(`settlement_periods`) and takes every eligible, earning commission line paid in the
month that no statement holds yet, plus the lines paid in earlier months that were
already settled (commissions earned late: a prior-period adjustment, kept apart in
the statement's `adjustment_total` and in each line's lineage), and the claw-backs of
reversed payments (negative lines dated like the line they reverse: a month's own are
kept apart in `clawback_total`, a settled month's are adjustments). Lines of an earlier
month no run has settled wait for that month's own run: a later month never sweeps
them into its journal. It groups them by partner, legal entity and currency and
draws up one statement per group. The cost is set-based: one grouping query, one
insert and one `UPDATE ... WHERE settlement_id IS NULL` per statement and one totals
query, whatever the number of invoices and payments. A statement, once drawn up,
does not change: lines arriving later are the next statement's adjustments.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.base import OutputModel
from core.canonical.documents import Settlement, SettlementStatus
from core.canonical.parties import PeriodStatus
from core.errors import NotFound
from core.ids import new_id
from core.models.commission_line import CommissionLineRow as Line
from core.models.invoice import InvoiceLineRow, InvoiceRow
from core.models.legal_entity import LegalEntityRow
from core.models.payment import PaymentRow
from core.models.settlement import SettlementRow
from core.models.settlement_period import SettlementPeriodRow as Settled
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


def awaits_period_close(
    legal_entity: LegalEntityRow, period_end: date, *, after_period_close: Sequence[str]
) -> bool:
    """Whether the legal entity settles only closed months and this one is not closed yet.

    `legal_entity.periods` must be loaded.
    """
    if legal_entity.code not in after_period_close:
        return False
    period = next((p for p in legal_entity.periods if p.starts_on <= period_end <= p.ends_on), None)
    return period is None or period.status != PeriodStatus.CLOSED


def _settleable(period_start: date, period_end: date) -> ColumnElement[bool]:
    """Unsettled earning lines of the month, and late ones of months already settled; none
    an open dispute holds."""
    earlier_month_settled = exists().where(
        Settled.legal_entity_id == Line.legal_entity_id,
        Settled.period_start <= Line.paid_on,
        Settled.period_end >= Line.paid_on,
    )
    return and_(
        Line.settlement_id.is_(None),
        Line.held_by.is_(None),  # an open dispute holds it back
        Line.eligible.is_(True),
        Line.commission_amount != 0,  # earned (positive) and clawed back (negative)
        Line.paid_on <= period_end,
        or_(Line.paid_on >= period_start, earlier_month_settled),
    )


async def draw_up(
    session: AsyncSession,
    *,
    period_start: date,
    period_end: date,
    legal_entity_ids: Sequence[str],
    settled_by: str | None,
) -> tuple[Sequence[SettlementRow], int]:
    """Settle the month for each of `legal_entity_ids` that has not settled it yet.

    Returns the month's statements (drawing up the missing ones) and how many were new.
    """
    settled = set(
        (
            await session.scalars(
                select(Settled.legal_entity_id).where(
                    Settled.period_start == period_start,
                    Settled.legal_entity_id.in_(legal_entity_ids),
                )
            )
        ).all()
    )
    unsettled = [le for le in legal_entity_ids if le not in settled]
    if not unsettled:
        return await period_settlements(session, period_start), 0
    session.add_all(
        Settled(
            legal_entity_id=legal_entity_id,
            period_start=period_start,
            period_end=period_end,
            settled_by=settled_by,
        )
        for legal_entity_id in unsettled
    )
    await _flush_first(session)
    settleable = and_(_settleable(period_start, period_end), Line.legal_entity_id.in_(unsettled))
    drawn = await _draw_statements(session, settleable, period_start, period_end)
    if drawn:
        await _total_statements(session, drawn, period_start)
    await session.flush()
    return await period_settlements(session, period_start), len(drawn)


async def _draw_statements(
    session: AsyncSession, settleable: ColumnElement[bool], period_start: date, period_end: date
) -> dict[str, SettlementRow]:
    """A draft statement per partner, legal entity and currency, given its settleable lines."""
    groups = (
        await session.execute(
            select(Line.partner_id, Line.legal_entity_id, Line.currency)
            .where(settleable)
            .group_by(Line.partner_id, Line.legal_entity_id, Line.currency)
        )
    ).all()
    drawn: dict[str, SettlementRow] = {}
    for partner_id, legal_entity_id, currency in groups:
        settlement = SettlementRow(
            id=new_id("settlement"),
            partner_id=partner_id,
            legal_entity_id=legal_entity_id,
            period_start=period_start,
            period_end=period_end,
            currency=currency,
            total_commission=0,
            adjustment_total=0,
            line_count=0,
            status=SettlementStatus.DRAFT,
        )
        session.add(settlement)
        await _flush_first(session)
        await session.execute(
            update(Line)
            .where(
                settleable,
                Line.partner_id == partner_id,
                Line.legal_entity_id == legal_entity_id,
                Line.currency == currency,
            )
            .values(settlement_id=settlement.id)
        )
        drawn[settlement.id] = settlement
    return drawn


async def _total_statements(
    session: AsyncSession, drawn: dict[str, SettlementRow], period_start: date
) -> None:
    """Count and total each drawn statement's lines (late ones as its adjustment); drop a
    statement left without lines, in place."""
    late = case((Line.paid_on < period_start, Line.commission_amount), else_=0)
    clawed = case(
        (
            and_(Line.paid_on >= period_start, Line.reverses_line_id.is_not(None)),
            Line.commission_amount,
        ),
        else_=0,
    )
    totals = (
        await session.execute(
            select(
                Line.settlement_id,
                func.count(),
                func.sum(Line.commission_amount),
                func.sum(late),
                func.sum(clawed),
            )
            .where(Line.settlement_id.in_(drawn))
            .group_by(Line.settlement_id)
        )
    ).all()
    for settlement_id, count, total, adjustment, clawback in totals:
        if settlement_id is not None:
            drawn[settlement_id].line_count = count
            drawn[settlement_id].total_commission = int(total or 0)
            drawn[settlement_id].adjustment_total = int(adjustment or 0)
            drawn[settlement_id].clawback_total = int(clawback or 0)
    for settlement in list(drawn.values()):
        if not settlement.line_count:  # a concurrent run took its lines: never committed
            await session.delete(settlement)
            del drawn[settlement.id]


async def _flush_first(session: AsyncSession) -> None:
    """Flush; a unique key another run wrote first means that run is settling the month."""
    try:
        await session.flush()
    except IntegrityError as error:
        await session.rollback()
        raise SettlementRunInProgress(
            "another run drew up this period's statements first; run it again"
        ) from error


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
            reverses_line_id=line.reverses_line_id,
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
    entries = [
        LineageEntry(
            **_lineage(*row),
            statement=_statement(
                row[0], settlement.id, settlement.journal_document_number, settlement.period_start
            ),
        )
        for row in rows[:limit]
    ]
    return entries, next_cursor([row[0].id for row in rows], limit)


async def lineage_of(
    session: AsyncSession, line_ids: Sequence[str]
) -> dict[str, CommissionLineage]:
    """The lineage of each of `line_ids` (a page's worth), by line id, in one query."""
    rows = (
        await session.execute(
            _lineage_query()
            .add_columns(SettlementRow.journal_document_number, SettlementRow.period_start)
            .outerjoin(SettlementRow, SettlementRow.id == Line.settlement_id)
            .where(Line.id.in_(line_ids))
        )
    ).all()
    return {
        line.id: CommissionLineage(
            **_lineage(line, payment, invoice_line, number, subscription_id),
            statement=None
            if line.settlement_id is None or starts is None
            else _statement(line, line.settlement_id, journal_number, starts),
        )
        for line, payment, invoice_line, number, subscription_id, journal_number, starts in rows
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


def _statement(
    line: Line, settlement_id: str, journal_number: str | None, period_start: date
) -> LineageStatement:
    return LineageStatement(
        settlement_id=settlement_id,
        journal_document_number=journal_number,
        prior_period_adjustment=line.paid_on < period_start,
    )
