"""Reconciliation decisions on the port fakes: which side lacks a document, and why."""

from __future__ import annotations

import pytest

from process_apis.invoices.schemas import PostingCreate
from process_apis.invoices.service import post_invoice
from process_apis.reconciliation.schemas import Cause, DifferenceKind, Reconciliation
from process_apis.reconciliation.service import list_runs, reconcile
from system_apis.erp.schemas import ErpInvoiceLine, ErpSalesInvoiceCreate
from system_apis.errors import BackendContractError
from tests.support.fakes.documents import PLATFORM, invoice_create, register
from tests.support.fakes.estate import US, US_COMPANY, Estate


async def posted(estate: Estate) -> str:
    invoice_id = await register(estate, invoice_create(invoice_date=estate.today))
    await post_invoice(
        estate.context, invoice_id=invoice_id, request=PostingCreate(), caller=PLATFORM
    )
    return invoice_id


async def this_month(estate: Estate) -> Reconciliation:
    return await reconcile(estate.context, legal_entity_id=US, period=f"{estate.today:%Y-%m}")


def causes(report: Reconciliation) -> list[tuple[str, Cause, str]]:
    return [(d.kind, d.cause, d.key) for d in report.differences]


async def test_a_posted_invoice_the_erp_holds_alike_is_clean(estate: Estate) -> None:
    await posted(estate)
    report = await this_month(estate)
    assert (report.clean, report.differences) == (True, [])
    [totals] = report.totals
    assert (totals.gateway_count, totals.erp_count) == (1, 1)
    assert totals.gateway_total == totals.erp_total == 14700 + 1305


async def test_an_erp_document_nobody_registered_is_missing_in_the_gateway(
    estate: Estate,
) -> None:
    line = ErpInvoiceLine(
        sequence=1, description="By hand", quantity=1, unit_price=1000, tax_code="STANDARD"
    )
    draft = await estate.erp.create_sales_invoice(
        US_COMPANY,
        ErpSalesInvoiceCreate(
            external_document_number="BY-HAND-1",
            customer_number="C-1",
            currency="USD",
            posting_date=estate.today,
            due_date=estate.today,
            lines=(line,),
        ),
    )
    await estate.erp.post_sales_invoice(US_COMPANY, draft.id)

    report = await this_month(estate)

    assert causes(report) == [
        (DifferenceKind.MISSING_IN_GATEWAY, Cause.NOT_REGISTERED, "BY-HAND-1")
    ]


async def test_other_erp_tax_is_an_amount_mismatch_caused_by_tax(estate: Estate) -> None:
    invoice_id = await posted(estate)
    [document] = estate.erp.invoices.values()  # someone corrected the tax in the ERP since
    estate.erp.invoices[document.id] = document.model_copy(
        update={
            "total_tax": document.total_tax - 3,
            "total_including_tax": document.total_including_tax - 3,
        }
    )
    report = await this_month(estate)
    [difference] = report.differences
    assert (difference.kind, difference.cause, difference.gateway_id) == (
        DifferenceKind.AMOUNT_MISMATCH,
        Cause.TAX,
        invoice_id,
    )
    assert difference.gateway_amount is not None
    assert difference.erp_amount is not None
    assert difference.gateway_amount - difference.erp_amount == 3


async def test_an_erp_failure_fails_the_run_and_keeps_its_report(estate: Estate) -> None:
    await posted(estate)
    estate.erp.recorder.fail("stream_sales_invoices", "contract")
    with pytest.raises(BackendContractError):
        await this_month(estate)
    async with estate.sessionmaker() as session:
        [run] = await list_runs(session, legal_entity_id=US)
    assert (run.status, run.clean) == ("failed", None)
