"""The posting's acknowledgement moves the invoice by one conditional UPDATE: only from a
status that may reach the new one, refused as the status machine refuses it otherwise."""

from functools import partial

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm.attributes import set_committed_value

from core.canonical.documents import InvoiceStatus
from core.errors import InvalidTransition
from core.models.invoice import InvoiceRow
from process_apis.idempotency import Unsent, send_unsent
from process_apis.invoices.workflow import _acknowledging_write, _refuse_unacknowledged
from system_apis.erp.schemas import ErpDocumentStatus, ErpSalesInvoice
from tests.conftest import Gateway
from tests.integration.test_invoice_posting import register

DOCUMENT = ErpSalesInvoice(
    id="erp-doc-1",
    number="PSI-1",
    external_document_number=None,
    customer_number=None,
    currency="USD",
    posting_date=None,
    status=ErpDocumentStatus.POSTED,
    line_count=1,
    total_excluding_tax=0,
    total_tax=0,
    total_including_tax=0,
    remaining_amount=0,
)


async def test_an_invoice_being_posted_is_acknowledged_with_its_version_bumped(
    gateway: Gateway,
) -> None:
    invoice_id = await register(gateway)
    async with gateway.sessionmaker.begin() as session:
        invoice = await session.get_one(InvoiceRow, invoice_id)
        invoice.status = InvoiceStatus.POSTING
    async with gateway.sessionmaker() as session:
        prepared = await session.get_one(InvoiceRow, invoice_id)  # as the prepare left it
    version = prepared.version

    async with gateway.sessionmaker.begin() as session:
        posted = await _acknowledge(await session.connection(), prepared)
    async with gateway.sessionmaker() as session:
        stored = await session.get_one(InvoiceRow, invoice_id)

    for invoice in (posted, stored):
        assert (invoice.status, invoice.erp_ref, invoice.erp_document_number) == (
            InvoiceStatus.POSTED,
            "erp-doc-1",
            "PSI-1",
        )
        assert invoice.version == version + 1
    assert posted.posted_at is not None
    assert posted.posted_at == stored.posted_at


async def test_an_invoice_moved_elsewhere_meanwhile_is_refused_and_left_as_it_is(
    gateway: Gateway,
) -> None:
    invoice_id = await register(gateway)  # open: it may not become posted

    async with gateway.sessionmaker() as session:
        prepared = await session.get_one(InvoiceRow, invoice_id)
        with pytest.raises(InvalidTransition):
            await _acknowledge(await session.connection(), prepared)
    async with gateway.sessionmaker() as session:
        invoice = await session.get_one(InvoiceRow, invoice_id)
    assert (invoice.status, invoice.erp_ref) == (InvoiceStatus.OPEN, None)


async def _acknowledge(connection: AsyncConnection, invoice: InvoiceRow) -> InvoiceRow:
    """The invoice acknowledged as posted, as the posting's closing does it."""
    write = _acknowledging_write(invoice, InvoiceStatus.POSTED, DOCUMENT)
    unsent = Unsent([write], partial(_refuse_unacknowledged, invoice, write))
    [version] = await send_unsent(connection, unsent, [])
    set_committed_value(invoice, "version", version)
    return invoice
