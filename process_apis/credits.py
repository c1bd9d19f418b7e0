"""What an invoice's credit memos credit: the sums behind its amount due and the limits
a correction is held to. Rejected memos credit nothing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.documents import CreditMemoStatus
from core.models.credit_memo import CreditMemoLineRow, CreditMemoRow
from core.models.payment import PaymentRow, PaymentStatus
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


async def applied_payments(session: AsyncSession, invoice_ids: Sequence[str]) -> dict[str, int]:
    """Per invoice, what the payments applied in the ERP paid of it (a renewal's payment
    also paid the upgrades billing collected with it: those parts are theirs)."""
    if not invoice_ids:
        return {}
    elsewhere = (
        select(func.coalesce(func.sum(PaymentApplicationRow.amount), 0))
        .where(PaymentApplicationRow.payment_id == PaymentRow.id)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(PaymentRow.invoice_id, func.sum(PaymentRow.amount - elsewhere))
        .where(PaymentRow.invoice_id.in_(invoice_ids), PaymentRow.status == PaymentStatus.APPLIED)
        .group_by(PaymentRow.invoice_id)
    )
    return {invoice_id: int(total or 0) for invoice_id, total in rows}


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
