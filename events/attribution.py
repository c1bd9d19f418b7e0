"""Which partner an event concerns: the partner a customer is attributed to.

Invoices, payments and credit memos belong to a customer; their events carry the
customer's partner as `partnerid`, so that partner's webhook endpoints receive them and
no other partner's do.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.customer import CustomerRow


async def customer_partner(session: AsyncSession, customer_id: str) -> str | None:
    """The partner `customer_id` is attributed to (None: a direct customer)."""
    return await session.scalar(select(CustomerRow.partner_id).where(CustomerRow.id == customer_id))
