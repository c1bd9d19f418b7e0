"""SQL for credit memos."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from core.models.credit_memo import CreditMemoRow


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
