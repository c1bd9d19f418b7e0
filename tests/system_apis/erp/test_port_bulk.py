"""`post_new_sales_invoices` on every ERP adapter: each document its own outcome."""

from __future__ import annotations

from system_apis.erp.schemas import ErpDocumentStatus, ErpInvoiceLine, ErpSalesInvoice
from system_apis.errors import BackendBusinessError
from tests.support.business_central import invoice_request
from tests.system_apis.erp.harness import CUSTOMER, Erp

UNKNOWN_TAX = (
    ErpInvoiceLine(sequence=1, description="Seat", quantity=1, unit_price=500, tax_code="NOPE"),
)


async def test_many_new_invoices_are_posted_each_with_its_own_outcome(erp: Erp) -> None:
    await erp.adapter.upsert_customer(erp.company_id, CUSTOMER)
    invoices = [
        invoice_request("BULK-1"),
        invoice_request("BULK-2", lines=UNKNOWN_TAX),
        invoice_request("BULK-3"),
    ]

    outcomes = await erp.adapter.post_new_sales_invoices(erp.company_id, invoices)

    first, refused, third = outcomes
    assert isinstance(first, ErpSalesInvoice)
    assert isinstance(third, ErpSalesInvoice)
    assert (first.external_document_number, third.external_document_number) == ("BULK-1", "BULK-3")
    assert first.status is third.status is ErpDocumentStatus.POSTED
    assert first.number is not None
    assert first.number != third.number
    assert (first.total_excluding_tax, first.total_tax) == (13998, 355)
    assert isinstance(refused, BackendBusinessError)  # that document alone: the others posted
    counts = [erp.document_count(f"BULK-{n}") for n in (1, 2, 3)]
    assert counts == [1, 0, 1]
