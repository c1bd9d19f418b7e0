"""Reads of the canonical rows that several workflows refer to."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from core.db import table_of
from core.driver import rows
from core.errors import NotFound
from core.folded import Write, rows_led
from core.models.customer import CustomerRow
from core.models.invoice import InvoiceLineRow, InvoiceRow
from core.rows import columns_of, detached

# Built once (each execution hits its memoized cache key and compiled form).
_INVOICE = (
    select(InvoiceRow)
    .where(InvoiceRow.id == bindparam("invoice_id"))
    .options(joinedload(InvoiceRow.lines))
)
_INVOICE_FOR_UPDATE = _INVOICE.with_for_update(of=InvoiceRow)

INVOICES, LINES = table_of(InvoiceRow), table_of(InvoiceLineRow)
_INVOICE_COLUMNS, _LINE_COLUMNS = columns_of(InvoiceRow), columns_of(InvoiceLineRow)
# The same read in SQL Core: the invoice's columns, then its line's (none: no line).
_LOCKED_INVOICE = (
    select(INVOICES, LINES)
    .outerjoin(LINES, LINES.c.invoice_id == INVOICES.c.id)
    .where(INVOICES.c.id == bindparam("invoice_id"))
    .order_by(LINES.c.sequence)
    .with_for_update(of=INVOICES)
)


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


async def lock_invoice(
    connection: AsyncConnection, invoice_id: str, *, lead: Write | None = None
) -> InvoiceRow:
    """`get_invoice(..., for_update=True)` read by SQL Core in `connection`'s transaction (on
    the driver, `core.driver`): the invoice and its lines are built detached, not loaded into
    a session (add them to one to have a change flushed). `lead`: a write sent with the read
    (`core.folded.rows_led`, which raises `Unled` when no row comes back)."""
    parameters = {"invoice_id": invoice_id}
    found = await (
        rows(connection, _LOCKED_INVOICE, parameters)
        if lead is None
        else rows_led(connection, lead, _LOCKED_INVOICE, parameters)
    )
    if not found:
        raise NotFound(f"no invoice {invoice_id}")
    width = len(_INVOICE_COLUMNS)
    invoice = detached(InvoiceRow, _INVOICE_COLUMNS, found[0][:width])
    lines = [
        detached(InvoiceLineRow, _LINE_COLUMNS, row[width:])
        for row in found
        if row[width] is not None  # the outer join's row of an invoice without lines
    ]
    set_committed_value(invoice, "lines", lines)
    return invoice


async def get_customer(session: AsyncSession, customer_id: str) -> CustomerRow:
    """A customer, or 404."""
    customer = await session.get(CustomerRow, customer_id)
    if customer is None:
        raise NotFound(f"no customer {customer_id}")
    return customer
