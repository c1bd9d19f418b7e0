"""SQL for credit memos."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.documents import CreditMemo, CreditMemoStatus
from core.errors import NotFound
from core.models.credit_memo import CreditMemoRow
from core.pagination import Page
from process_apis.listing import ListQuery, list_rows


async def get_credit_memo(
    session: AsyncSession, credit_memo_id: str, *, for_update: bool = False
) -> CreditMemoRow:
    query = select(CreditMemoRow).where(CreditMemoRow.id == credit_memo_id)
    if for_update:
        query = query.with_for_update()
    memo = await session.scalar(query)
    if memo is None:
        raise NotFound(f"no credit memo {credit_memo_id}")
    return memo


async def list_credit_memos(
    session: AsyncSession,
    *,
    listing: ListQuery,
    status: CreditMemoStatus | None = None,
    customer_id: str | None = None,
    invoice_id: str | None = None,
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
        },
    )
    return Page[CreditMemo](
        items=[CreditMemo.model_validate(row) for row in rows], next_cursor=cursor
    )
