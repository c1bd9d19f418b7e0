"""Reads of the canonical rows that several workflows refer to."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.errors import NotFound
from core.models.customer import CustomerRow
from core.models.invoice import InvoiceRow


async def get_invoice(
    session: AsyncSession, invoice_id: str, *, for_update: bool = False
) -> InvoiceRow:
    """An invoice with its lines, or 404."""
    query = (
        select(InvoiceRow)
        .where(InvoiceRow.id == invoice_id)
        .options(selectinload(InvoiceRow.lines))
    )
    if for_update:
        query = query.with_for_update()
    invoice = await session.scalar(query)
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id}")
    return invoice


async def get_customer(session: AsyncSession, customer_id: str) -> CustomerRow:
    """A customer, or 404."""
    customer = await session.get(CustomerRow, customer_id)
    if customer is None:
        raise NotFound(f"no customer {customer_id}")
    return customer
