"""Port-level payment reversals, on every ERP adapter over its sandbox: the invoice owes
again, both documents stay, a repeat adds nothing, and the period reads both back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sandboxes.demo_estate import first_open_day
from system_apis.erp.schemas import (
    ErpCustomerPayment,
    ErpCustomerPaymentReversal,
    ErpDocumentStatus,
)
from system_apis.errors import BackendBusinessError, BackendTransientError
from tests.support.business_central import PAYMENTS, payment_request
from tests.system_apis.erp.harness import Erp
from tests.system_apis.erp.test_port_ledger import posted_invoice


def reversal_of(payment: ErpCustomerPayment, amount: int) -> ErpCustomerPaymentReversal:
    return ErpCustomerPaymentReversal(
        external_document_number=f"{payment.external_document_number}-R",
        reverses_document_number=payment.document_number or "",
        customer_number="C0001",
        currency="USD",
        posting_date=first_open_day(),
        amount=amount,
        applies_to_invoice_id=payment.applies_to_invoice_id or "",
        description=f"Reversal of {payment.document_number}: cheque bounced",
    )


async def test_a_reversed_payment_leaves_its_invoice_owing_once(erp: Erp) -> None:
    company = erp.company_id
    invoice = await posted_invoice(erp, "inv_rev_1")
    journal = await erp.adapter.ensure_customer_payment_journal(company, PAYMENTS)
    paid = await erp.adapter.apply_customer_payment(
        company, journal.id, payment_request("pay_r1", invoice.id, 14353)
    )
    assert (await erp.adapter.get_sales_invoice(company, invoice.id)).remaining_amount == 0
    erp.faults.matches = erp.creates_reversal
    erp.faults.after_forwarding = True  # the reversing entry is written, its answer lost

    with pytest.raises(BackendTransientError):
        await erp.adapter.reverse_customer_payment(company, journal.id, reversal_of(paid, 14353))
    erp.faults.matches = lambda _request: False
    booked = await erp.adapter.reverse_customer_payment(
        company, journal.id, reversal_of(paid, 14353)
    )
    again = await erp.adapter.reverse_customer_payment(
        company, journal.id, reversal_of(paid, 14353)
    )

    assert booked == again
    assert (booked.amount, booked.external_document_number) == (-14353, "pay_r1-R")
    assert (booked.applies_to_invoice_id, booked.customer_number) == (invoice.id, "C0001")
    assert booked.document_number
    assert (booked.journal_id, booked.posting_date) == (journal.id, first_open_day())
    assert erp.reversal_count("pay_r1-R") == 1
    assert erp.payment_count("pay_r1") == 1  # the original stays
    after = await erp.adapter.get_sales_invoice(company, invoice.id)
    assert (after.status, after.remaining_amount) == (ErpDocumentStatus.POSTED, 14353)


async def test_the_period_reads_the_payment_and_its_reversing_entry(erp: Erp) -> None:
    company, start = erp.company_id, first_open_day()
    invoice = await posted_invoice(erp, "inv_rev_2")
    journal = await erp.adapter.ensure_customer_payment_journal(company, PAYMENTS)
    paid = await erp.adapter.apply_customer_payment(
        company, journal.id, payment_request("pay_r2", invoice.id, 14353)
    )
    booked = await erp.adapter.reverse_customer_payment(
        company, journal.id, reversal_of(paid, 14353)
    )

    received = [
        (p.external_document_number, p.amount, p.document_number, p.posting_date, p.currency)
        async for p in erp.adapter.stream_customer_payments(
            company, PAYMENTS.code, start, start + timedelta(days=27), currency="USD"
        )
    ]

    assert sorted(received, key=lambda row: row[1]) == [
        ("pay_r2-R", -14353, booked.document_number, start, "USD"),
        ("pay_r2", 14353, paid.document_number, start, "USD"),
    ]


async def test_a_reversal_over_what_the_payment_applied_is_refused(erp: Erp) -> None:
    company = erp.company_id
    invoice = await posted_invoice(erp, "inv_rev_3")
    journal = await erp.adapter.ensure_customer_payment_journal(company, PAYMENTS)
    paid = await erp.adapter.apply_customer_payment(
        company, journal.id, payment_request("pay_r3", invoice.id, 5000)
    )

    with pytest.raises(BackendBusinessError):
        await erp.adapter.reverse_customer_payment(company, journal.id, reversal_of(paid, 5001))

    assert erp.reversal_count("pay_r3-R") == 0
    assert (await erp.adapter.get_sales_invoice(company, invoice.id)).remaining_amount == 9353
