"""An invoice's credits as its resource shows them: its credit memos with the lines they
credit, what is still due once credits posted in the ERP, payments' cash and the credit
applied for payments are taken off, and what open disputes of its payments contest."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.models.credit_memo import CreditMemoRow
from core.models.dispute import DisputeRow, DisputeStatus
from core.models.invoice import InvoiceRow
from process_apis import credits
from process_apis.invoices.schemas import (
    CreditedLine,
    CreditStatus,
    InvoiceCredit,
    InvoiceCreditMemo,
)


async def credit_of(
    session: AsyncSession, invoices: Sequence[InvoiceRow]
) -> dict[str, InvoiceCredit]:
    """Per invoice, its credit memos, the amounts credited, paid and credit applied, and
    the amount due."""
    ids = [invoice.id for invoice in invoices]
    memos: dict[str, list[InvoiceCreditMemo]] = defaultdict(list)
    if ids:
        for memo in await session.scalars(
            select(CreditMemoRow)
            .where(CreditMemoRow.invoice_id.in_(ids))
            .options(selectinload(CreditMemoRow.lines))
            .order_by(CreditMemoRow.id)
        ):
            memos[memo.invoice_id].append(
                InvoiceCreditMemo.model_validate(
                    {
                        **{name: getattr(memo, name) for name in _MEMO_FIELDS},
                        "lines": [CreditedLine.model_validate(line) for line in memo.lines],
                    }
                )
            )
    credited = await credits.posted_credit(session, ids)
    settled = await credits.settled(session, ids)
    disputed = await _open_disputes(session, ids)
    return {
        invoice.id: _credit(
            invoice,
            memos[invoice.id],
            credited.get(invoice.id, 0),
            settled.get(invoice.id, credits.Settled()),
        ).model_copy(update={"amount_disputed": disputed.get(invoice.id, 0)})
        for invoice in invoices
    }


async def _open_disputes(session: AsyncSession, ids: list[str]) -> dict[str, int]:
    """Per invoice, what its open disputes contest."""
    if not ids:
        return {}
    rows = await session.execute(
        select(DisputeRow.invoice_id, func.sum(DisputeRow.amount))
        .where(DisputeRow.invoice_id.in_(ids), DisputeRow.status == DisputeStatus.OPEN)
        .group_by(DisputeRow.invoice_id)
    )
    return {invoice_id: int(total) for invoice_id, total in rows}


_MEMO_FIELDS = tuple(InvoiceCreditMemo.model_fields.keys() - {"lines"})


def _credit(
    invoice: InvoiceRow, memos: list[InvoiceCreditMemo], credited: int, settled: credits.Settled
) -> InvoiceCredit:
    status = (
        CreditStatus.FULLY_CREDITED
        if credited >= invoice.total and credited > 0
        else CreditStatus.PARTIALLY_CREDITED
        if credited > 0
        else CreditStatus.NOT_CREDITED
    )
    return InvoiceCredit(
        status=status,
        amount_credited=credited,
        amount_paid=settled.cash,
        amount_credit_applied=settled.credit,
        amount_due=credits.amount_due(invoice.total, credited, settled.cash, settled.credit),
        credit_memos=memos,
    )
