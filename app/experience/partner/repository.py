"""The partner portal's queries, every one scoped to the token's partner.

Lists are keyset pages, newest first. Customers, subscriptions and commission lines
are read from an index on (partner, id) and statements from one on (partner, month)
(migration 0006), so a page costs the same at any depth. Invoices carry no partner:
they are read backwards by id and kept when their customer is the partner's, which
costs the same at any depth too, in proportion to how rare the partner's invoices
are among all. A page's related rows (payments, lineage) come in a few more queries by
the page's ids, never one per item. A payment counts for what it paid of the invoice:
its cash less the parts applied to the upgrades billing collected with it
(`payment_applications`, listed as its parts), and the credit applied for it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from sqlalchemy import ColumnElement, Select, and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.experience.partner.schemas import (
    CommissionStatus,
    InvoicePayment,
    InvoicePayments,
    InvoicePaymentStatus,
    PartnerCommissionLine,
    PartnerInvoice,
    PaymentPart,
    Statement,
    StatementSettlement,
    StatementTotal,
)
from core.canonical.documents import (
    Invoice,
    InvoiceStatus,
    SettlementStatus,
)
from core.canonical.subscriptions import Subscription, SubscriptionStatus
from core.errors import NotFound
from core.models.amendment_proration import AmendmentProrationRow
from core.models.commission_line import CommissionLineRow as Line
from core.models.customer import CustomerRow
from core.models.invoice import InvoiceRow
from core.models.payment import PaymentRow, PaymentStatus
from core.models.payment_application import PaymentApplicationRow
from core.models.settlement import SettlementRow
from core.models.subscription import SubscriptionRow
from core.pagination import InvalidCursor, decode_cursor, keyset_page, next_cursor
from process_apis import credits
from process_apis.settlements.schemas import period_bounds
from process_apis.settlements.service import lineage_of


def own_customers(partner: str) -> Select[CustomerRow]:
    return select(CustomerRow).where(CustomerRow.partner_id == partner)


# --- subscriptions -------------------------------------------------------------------


def _own_subscriptions(partner: str) -> Select[SubscriptionRow]:
    """The partner's subscriptions: of its own customers, or ones billing created for it.

    An order naming a partner the CRM refused for a customer not attributed to it never
    reaches billing: that partner does not see it.
    """
    return (
        select(SubscriptionRow)
        .join(CustomerRow, CustomerRow.id == SubscriptionRow.customer_id)
        .where(
            SubscriptionRow.partner_id == partner,
            or_(CustomerRow.partner_id == partner, SubscriptionRow.billing_ref.is_not(None)),
        )
    )


async def list_subscriptions(
    session: AsyncSession,
    partner: str,
    *,
    status: SubscriptionStatus | None,
    customer_id: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Subscription], str | None]:
    query = _own_subscriptions(partner)
    if status is not None:
        query = query.where(SubscriptionRow.status == status)
    if customer_id is not None:
        query = query.where(SubscriptionRow.customer_id == customer_id)
    rows, cursor_out = await keyset_page(
        session, query, SubscriptionRow.id, cursor=cursor, limit=limit
    )
    return [Subscription.model_validate(row) for row in rows], cursor_out


async def get_subscription(
    session: AsyncSession, partner: str, subscription_id: str
) -> Subscription:
    row = await session.scalar(
        _own_subscriptions(partner).where(SubscriptionRow.id == subscription_id)
    )
    if row is None:
        raise NotFound(f"no subscription {subscription_id}")
    return Subscription.model_validate(row)


# --- invoices and their payments -----------------------------------------------------


def _own_invoices(partner: str) -> Select[InvoiceRow]:
    return (
        select(InvoiceRow)
        .join(CustomerRow, CustomerRow.id == InvoiceRow.customer_id)
        .where(CustomerRow.partner_id == partner)
        .options(selectinload(InvoiceRow.lines))
    )


def _payments(
    invoice: InvoiceRow,
    payments: list[InvoicePayment],
    credited: int,
    settled: credits.Settled,
) -> InvoicePayments:
    pending = sum(p.amount for p in payments if p.status == PaymentStatus.RECORDED)
    paid = settled.cash + settled.credit
    status = (
        InvoicePaymentStatus.PAID
        if paid + credited >= invoice.total and paid > 0
        else InvoicePaymentStatus.PARTIALLY_PAID
        if paid > 0
        else InvoicePaymentStatus.UNPAID
    )
    return InvoicePayments(
        status=status,
        amount_paid=settled.cash,
        amount_pending=pending,
        amount_credited=credited,
        amount_credit_applied=settled.credit,
        amount_due=credits.amount_due(invoice.total, credited, settled.cash, settled.credit),
        payments=payments,
    )


async def _payment_parts(
    session: AsyncSession, invoice_ids: list[str]
) -> dict[str, list[InvoicePayment]]:
    """Per invoice, its payments oldest first, each with what it applied where."""
    if not invoice_ids:
        return {}
    rows = await session.execute(
        select(PaymentRow, credits.applied_elsewhere(), credits.credit_applied())
        .where(PaymentRow.invoice_id.in_(invoice_ids))
        .order_by(PaymentRow.id)
    )
    payments = [(row, int(elsewhere), int(credit)) for row, elsewhere, credit in rows]
    parts: dict[str, list[PaymentPart]] = defaultdict(list)
    if payments:
        for application, number in await session.execute(
            select(PaymentApplicationRow, AmendmentProrationRow.erp_document_number)
            .join(
                AmendmentProrationRow,
                AmendmentProrationRow.id == PaymentApplicationRow.amendment_id,
            )
            .where(PaymentApplicationRow.payment_id.in_([row.id for row, _, _ in payments]))
            .order_by(PaymentApplicationRow.id)
        ):
            parts[application.payment_id].append(
                PaymentPart(
                    amendment_id=application.amendment_id,
                    erp_invoice_number=number,
                    amount=application.amount,
                    erp_document_number=application.erp_document_number,
                )
            )
    by_invoice: dict[str, list[InvoicePayment]] = defaultdict(list)
    for row, elsewhere, credit in payments:
        by_invoice[row.invoice_id].append(
            InvoicePayment.model_validate(
                {
                    **{name: getattr(row, name) for name in _PAYMENT_FIELDS},
                    "amount_applied": row.amount - elsewhere,
                    "credit_applied": credit,
                    "parts": parts[row.id],
                }
            )
        )
    return by_invoice


_PAYMENT_FIELDS = tuple(
    InvoicePayment.model_fields.keys() - {"amount_applied", "credit_applied", "parts"}
)


async def _with_payments(
    session: AsyncSession, invoices: Sequence[InvoiceRow]
) -> list[PartnerInvoice]:
    ids = [i.id for i in invoices]
    payments = await _payment_parts(session, ids)
    credited = await credits.posted_credit(session, ids)
    settled = await credits.settled(session, ids)
    return [
        PartnerInvoice(
            **dict(Invoice.model_validate(invoice)),
            payment=_payments(
                invoice,
                payments.get(invoice.id, []),
                credited.get(invoice.id, 0),
                settled.get(invoice.id, credits.Settled()),
            ),
        )
        for invoice in invoices
    ]


async def list_invoices(
    session: AsyncSession,
    partner: str,
    *,
    status: InvoiceStatus | None,
    customer_id: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[PartnerInvoice], str | None]:
    query = _own_invoices(partner)
    if status is not None:
        query = query.where(InvoiceRow.status == status)
    if customer_id is not None:
        query = query.where(InvoiceRow.customer_id == customer_id)
    rows, cursor_out = await keyset_page(session, query, InvoiceRow.id, cursor=cursor, limit=limit)
    return await _with_payments(session, rows), cursor_out


async def get_invoice(session: AsyncSession, partner: str, invoice_id: str) -> PartnerInvoice:
    row = await session.scalar(_own_invoices(partner).where(InvoiceRow.id == invoice_id))
    if row is None:
        raise NotFound(f"no invoice {invoice_id}")
    return (await _with_payments(session, [row]))[0]


# --- commission lines with their lineage ---------------------------------------------


def _earns() -> ColumnElement[bool]:
    return and_(Line.eligible.is_(True), Line.commission_amount > 0)


COMMISSION_STATUS: dict[CommissionStatus, ColumnElement[bool]] = {
    CommissionStatus.SETTLED: Line.settlement_id.is_not(None),
    CommissionStatus.UNSETTLED: and_(Line.settlement_id.is_(None), _earns()),
    CommissionStatus.INELIGIBLE: or_(Line.eligible.is_(False), Line.commission_amount <= 0),
}


def _commission_status(line: Line) -> CommissionStatus:
    if line.settlement_id is not None:
        return CommissionStatus.SETTLED
    if line.eligible and line.commission_amount > 0:
        return CommissionStatus.UNSETTLED
    return CommissionStatus.INELIGIBLE


async def _with_lineage(
    session: AsyncSession, lines: Sequence[Line]
) -> list[PartnerCommissionLine]:
    lineage = await lineage_of(session, [line.id for line in lines])
    settlement_ids = {line.settlement_id for line in lines if line.settlement_id is not None}
    periods: dict[str, date] = {}
    if settlement_ids:
        rows = await session.execute(
            select(SettlementRow.id, SettlementRow.period_start).where(
                SettlementRow.id.in_(settlement_ids)
            )
        )
        periods = {row.id: row.period_start for row in rows}
    return [
        PartnerCommissionLine(
            id=line.id,
            status=_commission_status(line),
            currency=line.currency,
            paid_on=line.paid_on,
            commission_amount=line.commission_amount,
            statement_period=None
            if line.settlement_id is None
            else f"{periods[line.settlement_id]:%Y-%m}",
            created_at=line.created_at,
            lineage=lineage[line.id],
        )
        for line in lines
    ]


async def list_commission_lines(
    session: AsyncSession,
    partner: str,
    *,
    period: str | None,
    status: CommissionStatus | None,
    currency: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[PartnerCommissionLine], str | None]:
    query = select(Line).where(Line.partner_id == partner)
    if period is not None:
        start, end = period_bounds(period)
        query = query.where(Line.paid_on >= start, Line.paid_on <= end)
    if status is not None:
        query = query.where(COMMISSION_STATUS[status])
    if currency is not None:
        query = query.where(Line.currency == currency)
    rows, cursor_out = await keyset_page(session, query, Line.id, cursor=cursor, limit=limit)
    return await _with_lineage(session, rows), cursor_out


async def get_commission_line(
    session: AsyncSession, partner: str, line_id: str
) -> PartnerCommissionLine:
    row = await session.scalar(select(Line).where(Line.partner_id == partner, Line.id == line_id))
    if row is None:
        raise NotFound(f"no commission line {line_id}")
    return (await _with_lineage(session, [row]))[0]


# --- settlement statements per period ------------------------------------------------

PERIOD = re.compile(r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$")
PROGRESS = (
    SettlementStatus.DRAFT,
    SettlementStatus.APPROVED,
    SettlementStatus.POSTED,
    SettlementStatus.PAID,
)


def _statement(period_start: date, settlements: list[SettlementRow]) -> Statement:
    live = [s for s in settlements if s.status != SettlementStatus.VOID]
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for settlement in live:
        totals[settlement.currency][0] += settlement.total_commission
        totals[settlement.currency][1] += settlement.line_count or 0
    return Statement(
        period=f"{period_start:%Y-%m}",
        period_start=period_start,
        period_end=max(s.period_end for s in settlements),
        status=min((SettlementStatus(s.status) for s in live), key=PROGRESS.index)
        if live
        else SettlementStatus.VOID,
        totals=[
            StatementTotal(currency=currency, total_commission=total, line_count=count)
            for currency, (total, count) in sorted(totals.items())
        ],
        settlements=[StatementSettlement.model_validate(s) for s in settlements],
    )


def _own_settlements(
    partner: str, *, currency: str | None, status: SettlementStatus | None
) -> list[ColumnElement[bool]]:
    conditions = [SettlementRow.partner_id == partner]
    if currency is not None:
        conditions.append(SettlementRow.currency == currency)
    if status is not None:
        conditions.append(SettlementRow.status == status)
    return conditions


async def list_statements(
    session: AsyncSession,
    partner: str,
    *,
    currency: str | None,
    status: SettlementStatus | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Statement], str | None]:
    """A page of months, newest first, each with those of its settlements the filters keep."""
    conditions = _own_settlements(partner, currency=currency, status=status)
    if (after := decode_cursor(cursor)) is not None:
        if not PERIOD.match(after):
            raise InvalidCursor("the cursor is malformed; restart from the first page")
        conditions.append(SettlementRow.period_start < period_bounds(after)[0])
    starts = list(
        await session.scalars(
            select(SettlementRow.period_start)
            .where(*conditions)
            .group_by(SettlementRow.period_start)
            .order_by(SettlementRow.period_start.desc())
            .limit(limit + 1)
        )
    )
    page = starts[:limit]
    by_period: dict[date, list[SettlementRow]] = defaultdict(list)
    for settlement in await session.scalars(
        select(SettlementRow)
        .where(*conditions, SettlementRow.period_start.in_(page) if page else false())
        .order_by(SettlementRow.currency, SettlementRow.legal_entity_id)
    ):
        by_period[settlement.period_start].append(settlement)
    statements = [_statement(start, by_period[start]) for start in page]
    return statements, next_cursor([f"{start:%Y-%m}" for start in starts], limit)


async def get_statement(session: AsyncSession, partner: str, period: str) -> Statement:
    start = period_bounds(period)[0]
    settlements = list(
        await session.scalars(
            select(SettlementRow)
            .where(SettlementRow.partner_id == partner, SettlementRow.period_start == start)
            .order_by(SettlementRow.currency, SettlementRow.legal_entity_id)
        )
    )
    if not settlements:
        raise NotFound(f"no statement for {period}")
    return _statement(start, settlements)
