"""The documents that change what a billed line earns after its invoice was posted.

Each source is one query of its posted documents, with the columns (in this order: the
sources are read as one union) `source_id`, `invoice_id`, `invoice_line_id` (none: the
invoice as a whole, shared by its lines' amounts), `amount` (negative takes revenue
back), `effective_on` and `serves_from` (the first day a document serves, spread over its
own days to the schedule's end; none: the schedule's months not recognized yet are
re-planned).
A document found here adjusts the schedules of its invoice once (`revenue_adjustments`
is unique per schedule and source). A new kind of document adds its query to `SOURCES`;
nothing else changes.

Each sum of money is counted by one source only. A refund's own credit memo (`kind:
refund`) is counted as the refund, for its net before tax (the invoice's subtotal share
of it, as its ERP memo credits it); a refund made by one of our credit memos counts as
that memo. A lost dispute takes its net before tax back once its loss is journaled. An
amendment's net proration (`amendment_prorations`) adjusts the subscription's billed line
serving the proration's first day, over the days it serves (booked to the deferred
revenue account its ERP adjustment was posted to, when it records one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Date, Select, cast, exists, null, select
from sqlalchemy.orm import InstrumentedAttribute

from core.canonical.documents import CreditMemoKind, CreditMemoStatus, InvoiceStatus
from core.models.amendment_proration import AmendmentProrationRow
from core.models.credit_memo import CreditMemoLineRow, CreditMemoRow
from core.models.dispute import DisputeRow, DisputeStatus
from core.models.invoice import InvoiceLineRow, InvoiceRow
from core.models.refund import RefundRow, RefundStatus
from core.models.revenue import RevenueAdjustmentRow

AdjustmentQuery = Select[str, str, str | None, int, date | None, date | None]

CREDIT_MEMO, REFUND, DISPUTE, AMENDMENT = "credit_memo", "refund", "dispute", "amendment"
BILLED = (InvoiceStatus.POSTED, InvoiceStatus.PAID)
# Typed, so the union of the sources reads its days as dates on every database.
_NO_DAY = cast(null(), Date)


@dataclass(frozen=True)
class AdjustmentSource:
    source_type: str
    query: AdjustmentQuery


def _correction_lines() -> Any:
    """A posted correction takes back the net it credited of each invoice line."""
    return (
        select(
            CreditMemoRow.id.label("source_id"),
            CreditMemoRow.invoice_id.label("invoice_id"),
            CreditMemoLineRow.invoice_line_id.label("invoice_line_id"),
            (-CreditMemoLineRow.amount).label("amount"),
            CreditMemoRow.posting_date.label("effective_on"),
            _NO_DAY.label("serves_from"),
        )
        .join(CreditMemoLineRow, CreditMemoLineRow.credit_memo_id == CreditMemoRow.id)
        .where(CreditMemoRow.status == CreditMemoStatus.POSTED)
    )


def _whole_invoice_credits() -> Any:
    """A posted support credit (no lines) takes back its net from the invoice as a whole;
    a refund's own memo is the refund's (`_refunds`)."""
    return select(
        CreditMemoRow.id.label("source_id"),
        CreditMemoRow.invoice_id.label("invoice_id"),
        null().label("invoice_line_id"),
        (-CreditMemoRow.amount).label("amount"),
        CreditMemoRow.posting_date.label("effective_on"),
        _NO_DAY.label("serves_from"),
    ).where(
        CreditMemoRow.status == CreditMemoStatus.POSTED,
        ~exists().where(CreditMemoLineRow.credit_memo_id == CreditMemoRow.id),
        CreditMemoRow.kind != CreditMemoKind.REFUND,
    )


def _counted_as_credit_memo(memo_id: InstrumentedAttribute[str]) -> ColumnElement[bool]:
    return exists().where(
        RevenueAdjustmentRow.source_type == CREDIT_MEMO, RevenueAdjustmentRow.source_id == memo_id
    )


def _net_of_tax(gross: InstrumentedAttribute[int]) -> ColumnElement[int]:
    """The invoice's subtotal share of a gross amount, rounded half up (integers)."""
    return (2 * gross * InvoiceRow.subtotal + InvoiceRow.total) // (2 * InvoiceRow.total)


def _refunds() -> Any:
    """A booked refund whose own credit memo is posted takes back its net before tax (one
    such memo that adjusted schedules as a credit memo is counted already)."""
    return (
        select(
            RefundRow.id.label("source_id"),
            RefundRow.invoice_id.label("invoice_id"),
            null().label("invoice_line_id"),
            (-_net_of_tax(RefundRow.amount)).label("amount"),
            CreditMemoRow.posting_date.label("effective_on"),
            _NO_DAY.label("serves_from"),
        )
        .join(InvoiceRow, InvoiceRow.id == RefundRow.invoice_id)
        .join(CreditMemoRow, CreditMemoRow.id == RefundRow.credit_memo_id)
        .where(
            RefundRow.status == RefundStatus.BOOKED,
            CreditMemoRow.kind == CreditMemoKind.REFUND,
            CreditMemoRow.status == CreditMemoStatus.POSTED,
            InvoiceRow.total > 0,
            ~_counted_as_credit_memo(CreditMemoRow.id),
        )
    )


def _lost_disputes() -> Any:
    """A lost dispute whose loss is journaled takes back its net before tax."""
    return (
        select(
            DisputeRow.id.label("source_id"),
            DisputeRow.invoice_id.label("invoice_id"),
            null().label("invoice_line_id"),
            (-_net_of_tax(DisputeRow.amount)).label("amount"),
            DisputeRow.posting_date.label("effective_on"),
            _NO_DAY.label("serves_from"),
        )
        .join(InvoiceRow, InvoiceRow.id == DisputeRow.invoice_id)
        .where(
            DisputeRow.status == DisputeStatus.LOST,
            DisputeRow.posting_date.is_not(None),
            InvoiceRow.total > 0,
        )
    )


def _amendments() -> Any:
    """An amendment's net proration adjusts the subscription's billed line that serves the
    proration's first day (the latest posted, its first line on a tie)."""
    proration = AmendmentProrationRow
    serving_line = (
        select(InvoiceLineRow.id)
        .join(InvoiceRow, InvoiceRow.id == InvoiceLineRow.invoice_id)
        .where(
            InvoiceRow.subscription_id == proration.subscription_id,
            InvoiceRow.status.in_(BILLED),
            InvoiceLineRow.service_period_start <= proration.service_start,
            InvoiceLineRow.service_period_end >= proration.service_start,
        )
        .order_by(InvoiceRow.posting_date.desc(), InvoiceRow.id, InvoiceLineRow.sequence)
        .limit(1)
        .correlate(proration)
        .scalar_subquery()
    )
    return select(
        proration.id.label("source_id"),
        select(InvoiceLineRow.invoice_id)
        .where(InvoiceLineRow.id == serving_line)
        .scalar_subquery()
        .label("invoice_id"),
        serving_line.label("invoice_line_id"),
        proration.amount.label("amount"),
        proration.posting_date.label("effective_on"),
        proration.service_start.label("serves_from"),
    )


SOURCES: tuple[AdjustmentSource, ...] = (
    AdjustmentSource(CREDIT_MEMO, _correction_lines()),
    AdjustmentSource(CREDIT_MEMO, _whole_invoice_credits()),
    AdjustmentSource(REFUND, _refunds()),
    AdjustmentSource(DISPUTE, _lost_disputes()),
    AdjustmentSource(AMENDMENT, _amendments()),
)
