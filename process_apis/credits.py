"""What an invoice's credit memos credit and its payments settle: the sums behind its
amount due, and the limits a correction is held to. Rejected memos credit nothing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, ScalarSelect, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.documents import CreditMemoStatus
from core.models.amendment_proration import AmendmentProrationRow
from core.models.credit_memo import CreditMemoLineRow, CreditMemoRow
from core.models.payment import PaymentRow, PaymentSource, PaymentStatus
from core.models.payment_application import PaymentApplicationRow

LIVE = CreditMemoRow.status != CreditMemoStatus.REJECTED


@dataclass(frozen=True)
class LineCredit:
    """What live corrections credit of one invoice line so far."""

    quantity: int = 0
    amount: int = 0
    tax_amount: int = 0


async def posted_credit(session: AsyncSession, invoice_ids: Sequence[str]) -> dict[str, int]:
    """Per invoice, what its credit memos posted to the ERP credit, tax included."""
    if not invoice_ids:
        return {}
    rows = await session.execute(
        select(CreditMemoRow.invoice_id, func.sum(CreditMemoRow.erp_total_including_tax))
        .where(
            CreditMemoRow.invoice_id.in_(invoice_ids),
            CreditMemoRow.status == CreditMemoStatus.POSTED,
        )
        .group_by(CreditMemoRow.invoice_id)
    )
    return {invoice_id: int(total or 0) for invoice_id, total in rows}


# A payment reversed stays in the ERP's ledger beside its reversing entry, and keeps what
# credit memos applied for it: only its cash is taken back.
IN_LEDGER = (PaymentStatus.APPLIED, PaymentStatus.REVERSED)


@dataclass(frozen=True)
class Settled:
    """What payments settled of an invoice: cash applied in the ERP, and credit (the
    customer's balance, collected downgrades' memos) applied to it for them."""

    cash: int = 0
    credit: int = 0


def applied_elsewhere() -> ScalarSelect[int]:
    """Of a payment's cash, what the ERP took on the upgrades billing collected with its
    invoice (`payment_applications`): its invoice took the rest."""
    return (
        select(func.coalesce(func.sum(PaymentApplicationRow.amount), 0))
        .where(PaymentApplicationRow.payment_id == PaymentRow.id)
        .scalar_subquery()
    )


def credit_applied() -> ColumnElement[int]:
    """What credit memos applied to a payment's invoice for it: the customer's balance
    billing netted, and (a billing payment) the memos of the downgrades billing collected
    with the invoice, tax included."""
    downgrades = (
        select(func.coalesce(func.sum(AmendmentProrationRow.erp_total_including_tax), 0))
        .where(
            AmendmentProrationRow.invoice_id == PaymentRow.invoice_id,
            AmendmentProrationRow.amount < 0,
        )
        .scalar_subquery()
    )
    return PaymentRow.balance_applied + case(
        (PaymentRow.source == PaymentSource.BILLING, downgrades), else_=0
    )


async def settled(session: AsyncSession, invoice_ids: Sequence[str]) -> dict[str, Settled]:
    """Per invoice, what its payments settled of it: the cash of those applied in the ERP
    (less the upgrades' parts: theirs), the credit of those in the ERP's ledger."""
    if not invoice_ids:
        return {}
    cash = case(
        (PaymentRow.status == PaymentStatus.APPLIED, PaymentRow.amount - applied_elsewhere()),
        else_=0,
    )
    rows = await session.execute(
        select(PaymentRow.invoice_id, func.sum(cash), func.sum(credit_applied()))
        .where(PaymentRow.invoice_id.in_(invoice_ids), PaymentRow.status.in_(IN_LEDGER))
        .group_by(PaymentRow.invoice_id)
    )
    return {
        invoice_id: Settled(int(paid or 0), int(credit or 0)) for invoice_id, paid, credit in rows
    }


def amount_due(total: int, *taken: int) -> int:
    """What an invoice still owes: its total less what credits and payments took."""
    return max(total - sum(taken), 0)


async def committed_credit(session: AsyncSession, invoice_id: str) -> int:
    """What the invoice's live credits credit or are about to, tax included.

    A posted memo counts what the ERP credited; a correction not yet posted its lines'
    net and tax; a support credit not yet posted its net amount (the ERP adds its tax,
    and refuses a credit over what the invoice still owes).
    """
    credit = case(
        (CreditMemoRow.erp_total_including_tax.is_not(None), CreditMemoRow.erp_total_including_tax),
        else_=CreditMemoRow.amount + func.coalesce(CreditMemoRow.tax_amount, 0),
    )
    total = await session.scalar(
        select(func.sum(credit)).where(CreditMemoRow.invoice_id == invoice_id, LIVE)
    )
    return int(total or 0)


async def line_credits(session: AsyncSession, invoice_id: str) -> dict[str, LineCredit]:
    """Per invoice line, what the invoice's live corrections credit of it."""
    rows = await session.execute(
        select(
            CreditMemoLineRow.invoice_line_id,
            func.sum(func.coalesce(CreditMemoLineRow.quantity, 0)),
            func.sum(CreditMemoLineRow.amount),
            func.sum(CreditMemoLineRow.tax_amount),
        )
        .join(CreditMemoRow, CreditMemoRow.id == CreditMemoLineRow.credit_memo_id)
        .where(CreditMemoRow.invoice_id == invoice_id, LIVE)
        .group_by(CreditMemoLineRow.invoice_line_id)
    )
    credits: dict[str, LineCredit] = defaultdict(LineCredit)
    for line_id, quantity, amount, tax in rows:
        credits[line_id] = LineCredit(int(quantity or 0), int(amount or 0), int(tax or 0))
    return credits
