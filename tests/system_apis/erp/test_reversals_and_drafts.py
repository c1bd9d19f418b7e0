"""Undoing in the ERP as each vendor does: Business Central's refusal of a reversal over
what was applied (the shared reversal scenario is `test_port_reversals.py`, NetSuite's
own ways `test_netsuite_reversals.py`), and the deletion of a draft document a failed
run left, refused once it is posted."""

from __future__ import annotations

from datetime import date

import pytest

from sandboxes.demo_estate import first_open_day
from system_apis.erp.schemas import (
    ErpCustomerPaymentReversal,
    ErpInvoiceLine,
    ErpSalesCreditMemoCreate,
)
from system_apis.errors import BackendBusinessError, BackendNotFound
from tests.support.business_central import (
    PAYMENTS,
    US,
    BcHarness,
    credit_memo_request,
    invoice_request,
    payment_request,
)
from tests.system_apis.erp.harness import NsHarness


def reversal(payment: str, invoice_id: str, amount: int) -> ErpCustomerPaymentReversal:
    return ErpCustomerPaymentReversal(
        external_document_number=f"{payment}-R",
        reverses_document_number="G00001",
        customer_number="C0001",
        currency="USD",
        posting_date=first_open_day(),
        amount=amount,
        applies_to_invoice_id=invoice_id,
        description="Reversal of G00001: cheque bounced",
    )


async def test_a_reversal_over_what_payments_applied_is_refused(bc: BcHarness) -> None:
    draft = await bc.adapter.create_sales_invoice(US.id, invoice_request("inv_2"))
    invoice = await bc.adapter.post_sales_invoice(US.id, draft.id)
    journal = await bc.adapter.ensure_customer_payment_journal(US.id, PAYMENTS)
    await bc.adapter.apply_customer_payment(
        US.id, journal.id, payment_request("pay_2", invoice.id, 5000)
    )

    with pytest.raises(BackendBusinessError) as caught:
        await bc.adapter.reverse_customer_payment(
            US.id, journal.id, reversal("pay_2", invoice.id, 5001)
        )

    assert caught.value.vendor_code == "Application_DialogException"
    assert (await bc.adapter.get_sales_invoice(US.id, invoice.id)).remaining_amount == 9353


async def test_bc_deletes_a_draft_and_refuses_a_posted_document(bc: BcHarness) -> None:
    left = await bc.adapter.create_sales_invoice(US.id, invoice_request("inv_3"))
    kept = await bc.adapter.create_sales_invoice(US.id, invoice_request("inv_4"))
    posted = await bc.adapter.post_sales_invoice(US.id, kept.id)
    memo = await bc.adapter.create_sales_credit_memo(US.id, credit_memo_request("cm_1"))

    await bc.adapter.delete_sales_invoice_draft(US.id, left.id)
    await bc.adapter.delete_sales_credit_memo_draft(US.id, memo.id)
    with pytest.raises(BackendBusinessError) as refused:
        await bc.adapter.delete_sales_invoice_draft(US.id, posted.id)
    with pytest.raises(BackendNotFound):
        await bc.adapter.delete_sales_invoice_draft(US.id, left.id)

    assert refused.value.vendor_code == "Application_DialogException"
    assert "has been posted and cannot be deleted" in str(refused.value)
    assert await bc.adapter.find_sales_invoice(US.id, "inv_3") is None
    assert await bc.adapter.find_sales_credit_memo(US.id, "cm_1") is None
    assert (await bc.adapter.find_sales_invoice(US.id, "inv_4")) == posted
    [delete] = bc.requests("DELETE", f"/salesInvoices({left.id})")[:1]
    assert delete.headers["if-match"] == "*"


async def test_netsuite_deletes_an_invoice_pending_approval_never_an_approved_one(
    ns: NsHarness,
) -> None:
    subsidiary = ns.us_subsidiary
    pending = await ns.adapter.create_sales_invoice(subsidiary, invoice_request("inv_5"))
    approved = await ns.adapter.post_sales_invoice(
        subsidiary,
        (await ns.adapter.create_sales_invoice(subsidiary, invoice_request("inv_6"))).id,
    )

    await ns.adapter.delete_sales_invoice_draft(subsidiary, pending.id)
    with pytest.raises(BackendBusinessError) as refused:
        await ns.adapter.delete_sales_invoice_draft(subsidiary, approved.id)

    assert refused.value.vendor_code == "USER_ERROR"
    assert "cannot be deleted" in str(refused.value)
    assert await ns.adapter.find_sales_invoice(subsidiary, "inv_5") is None
    assert await ns.adapter.find_sales_invoice(subsidiary, "inv_6") == approved


async def test_netsuite_refuses_to_delete_a_credit_memo_posted_on_save(ns: NsHarness) -> None:
    subsidiary = ns.us_subsidiary
    invoice = await ns.adapter.post_sales_invoice(
        subsidiary,
        (await ns.adapter.create_sales_invoice(subsidiary, invoice_request("inv_7"))).id,
    )
    memo = await ns.adapter.create_sales_credit_memo(
        subsidiary,
        ErpSalesCreditMemoCreate(
            external_document_number="cm_2",
            customer_number="C0001",
            currency="USD",
            posting_date=invoice.posting_date or date.today(),
            due_date=invoice.posting_date or date.today(),
            applies_to_invoice_id=invoice.id,
            lines=(
                ErpInvoiceLine(
                    sequence=1, description="Credit", quantity=1, unit_price=100, tax_code="EXEMPT"
                ),
            ),
        ),
    )

    with pytest.raises(BackendBusinessError) as refused:
        await ns.adapter.delete_sales_credit_memo_draft(subsidiary, memo.id)

    assert "posted to the general ledger" in str(refused.value)
    assert await ns.adapter.find_sales_credit_memo(subsidiary, "cm_2") == memo
