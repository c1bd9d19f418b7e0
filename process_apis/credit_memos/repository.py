"""SQL for credit memos."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.canonical.documents import CreditMemo, CreditMemoKind, CreditMemoStatus
from core.errors import NotFound
from core.models.credit_memo import CreditMemoRow
from core.models.payment import PaymentRow, PaymentStatus
from core.pagination import Page
from process_apis.listing import ListQuery, list_rows


async def applied_payment(session: AsyncSession, invoice_id: str) -> PaymentRow | None:
    """The payment applied to the invoice in the ERP (the first, if several): a credit on
    the invoice then is settled by a refund of it or on the customer's balance."""
    return await session.scalar(
        select(PaymentRow)
        .where(PaymentRow.invoice_id == invoice_id, PaymentRow.status == PaymentStatus.APPLIED)
        .order_by(PaymentRow.created_at)
        .limit(1)
    )


async def get_credit_memo(
    session: AsyncSession, credit_memo_id: str, *, for_update: bool = False
) -> CreditMemoRow:
    query = (
        select(CreditMemoRow)
        .where(CreditMemoRow.id == credit_memo_id)
        .options(selectinload(CreditMemoRow.lines))
    )
    if for_update:
        query = query.with_for_update()
    memo = await session.scalar(query)
    if memo is None:
        raise NotFound(f"no credit memo {credit_memo_id}")
    return memo


async def requested_with(session: AsyncSession, request_key: str | None) -> str | None:
    """The credit memo a request with this key created, if any."""
    if request_key is None:
        return None
    return await session.scalar(
        select(CreditMemoRow.id).where(CreditMemoRow.request_key == request_key)
    )


async def list_credit_memos(
    session: AsyncSession,
    *,
    listing: ListQuery,
    status: CreditMemoStatus | None = None,
    customer_id: str | None = None,
    invoice_id: str | None = None,
    kind: CreditMemoKind | None = None,
) -> Page[CreditMemo]:
    """A page of credit memos, newest first, dated by their request."""
    rows, cursor = await list_rows(
        session,
        select(CreditMemoRow),
        CreditMemoRow.id,
        listing,
        date_column=CreditMemoRow.created_at,
        updated_column=CreditMemoRow.updated_at,
        legal_entity_column=CreditMemoRow.legal_entity_id,
        equal={
            CreditMemoRow.status: status,
            CreditMemoRow.customer_id: customer_id,
            CreditMemoRow.invoice_id: invoice_id,
            CreditMemoRow.kind: kind,
        },
    )
    return Page[CreditMemo](
        items=[CreditMemo.model_validate(row) for row in rows], next_cursor=cursor
    )


async def credited(session: AsyncSession, *, invoice_id: str, case_id: str | None) -> int:
    """The larger of what the invoice's and the case's credits add up to (all but rejected).

    The approval threshold applies to it, so splitting a credit does not escape approval.
    """
    live = CreditMemoRow.status != CreditMemoStatus.REJECTED
    totals = [CreditMemoRow.invoice_id == invoice_id]
    if case_id is not None:
        totals.append(CreditMemoRow.case_id == case_id)
    sums = [
        await session.scalar(select(func.sum(CreditMemoRow.amount)).where(live, condition))
        for condition in totals
    ]
    return max(int(total or 0) for total in sums)
