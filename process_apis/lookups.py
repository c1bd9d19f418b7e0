"""Reads of the canonical rows that several workflows refer to."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from core.errors import NotFound
from core.models.customer import CustomerRow
from core.models.invoice import InvoiceRow

# Built once (each execution hits its memoized cache key and compiled form).
_INVOICE = (
    select(InvoiceRow)
    .where(InvoiceRow.id == bindparam("invoice_id"))
    .options(joinedload(InvoiceRow.lines))
)
_INVOICE_FOR_UPDATE = _INVOICE.with_for_update(of=InvoiceRow)


async def get_invoice(
    session: AsyncSession, invoice_id: str, *, for_update: bool = False
) -> InvoiceRow:
    """An invoice with its lines (joined: one statement), or 404; `for_update` locks the
    invoice's row, not its lines'."""
    query = _INVOICE_FOR_UPDATE if for_update else _INVOICE
    found = await session.execute(query, {"invoice_id": invoice_id})
    invoice = found.unique().scalar_one_or_none()
    if invoice is None:
        raise NotFound(f"no invoice {invoice_id}")
    return invoice


async def get_customer(session: AsyncSession, customer_id: str) -> CustomerRow:
    """A customer, or 404."""
    customer = await session.get(CustomerRow, customer_id)
    if customer is None:
        raise NotFound(f"no customer {customer_id}")
    return customer
