"""The port fakes keep the rules the workflow tests rely on: armed failures classified as
the resilient client classifies a vendor's answer, and the backends' own idempotency."""

from __future__ import annotations

from datetime import date

import pytest

from core.errors import ErrorClass
from system_apis.billing.schemas import BillingCustomerCreate
from system_apis.erp.schemas import (
    ErpCustomerPaymentCreate,
    ErpCustomerPaymentReversal,
    ErpDocumentStatus,
    ErpInvoiceLine,
    ErpSalesCreditMemoCreate,
    ErpSalesInvoiceCreate,
)
from system_apis.errors import BackendBusinessError, BackendError
from tests.support.business_central import PAYMENTS
from tests.support.fakes.billing import FakeBilling
from tests.support.fakes.erp import FakeCompany, FakeErp
from tests.support.fakes.recorder import FailureKind

COMPANY = FakeCompany("c", "C", "USD", {"STANDARD": 888})
DOCUMENT = ErpSalesInvoiceCreate(
    external_document_number="inv_1",
    customer_number="C-1",
    currency="USD",
    posting_date=date(2026, 12, 1),
    due_date=date(2026, 12, 31),
    lines=(
        ErpInvoiceLine(
            sequence=1, description="x", quantity=3, unit_price=4900, tax_code="STANDARD"
        ),
    ),
)


@pytest.mark.parametrize(
    ("kind", "error_class", "status"),
    [
        ("transient", ErrorClass.TRANSIENT, 503),
        ("timeout", ErrorClass.TRANSIENT, None),
        ("contract", ErrorClass.CONTRACT, None),
        ("not_found", ErrorClass.BUSINESS, 404),
        ("conflict", ErrorClass.BUSINESS, 409),
        ("business", ErrorClass.BUSINESS, 422),
        ("auth", ErrorClass.AUTH, 401),
    ],
)
async def test_an_armed_failure_fires_once_after_the_good_calls_and_changes_nothing(
    kind: FailureKind, error_class: ErrorClass, status: int | None
) -> None:
    erp = FakeErp(COMPANY)
    erp.recorder.fail("create_sales_invoice", kind, after=1)
    await erp.create_sales_invoice("c", DOCUMENT)
    with pytest.raises(BackendError) as raised:
        await erp.create_sales_invoice(
            "c", DOCUMENT.model_copy(update={"external_document_number": "inv_2"})
        )
    assert (raised.value.error_class, raised.value.vendor_status) == (error_class, status)
    assert len(erp.invoices) == 1
    await erp.create_sales_invoice(
        "c", DOCUMENT.model_copy(update={"external_document_number": "inv_2"})
    )
    assert len(erp.invoices) == 2


def test_an_operation_the_port_does_not_have_cannot_be_armed() -> None:
    with pytest.raises(ValueError, match="post_invoice"):
        FakeErp().recorder.fail("post_invoice", "transient")


async def test_the_erp_finds_a_document_by_our_number_and_taxes_it_itself() -> None:
    erp = FakeErp(COMPANY)
    draft = await erp.create_sales_invoice("c", DOCUMENT)
    assert await erp.create_sales_invoice("c", DOCUMENT) == draft
    with pytest.raises(BackendBusinessError):  # a caller sure it is absent is told otherwise
        await erp.create_sales_invoice("c", DOCUMENT, known_absent=True)
    posted = await erp.post_sales_invoice("c", draft.id)
    assert (posted.total_tax, posted.remaining_amount) == (1305, 14700 + 1305)
    assert await erp.post_sales_invoice("c", draft.id) == posted


async def test_a_posted_documents_lines_with_an_account_are_in_that_accounts_ledger() -> None:
    erp = FakeErp(COMPANY)
    deferred = ErpInvoiceLine(
        sequence=2,
        description="Pro, annual",
        quantity=2,
        unit_price=60000,
        tax_code="STANDARD",
        account_number="24000",
    )
    document = DOCUMENT.model_copy(update={"lines": (*DOCUMENT.lines, deferred)})
    draft = await erp.create_sales_invoice("c", document)
    ledger = ("c", date(2026, 12, 1), date(2026, 12, 31))
    assert await erp.list_ledger_entries(*ledger, account_number="24000", currency="USD") == ()
    invoice = await erp.post_sales_invoice("c", draft.id)
    memo = ErpSalesCreditMemoCreate(
        external_document_number="cm_1",
        customer_number="C-1",
        currency="USD",
        posting_date=date(2026, 12, 20),
        due_date=date(2026, 12, 20),
        applies_to_invoice_id=invoice.id,
        lines=(deferred.model_copy(update={"sequence": 1, "quantity": 1}),),
    )
    credited = await erp.post_sales_credit_memo(
        "c", (await erp.create_sales_credit_memo("c", memo)).id
    )

    entries = [
        (entry.document_number, entry.debit, entry.credit)
        async for entry in erp.stream_ledger_entries(
            *ledger, account_number="24000", currency="USD"
        )
    ]
    assert entries == [(invoice.number, 0, 120000), (credited.number, 60000, 0)]
    assert await erp.list_ledger_entries(*ledger, account_number="40100", currency="USD") == ()


async def test_a_reversed_payment_leaves_its_invoice_owing_again_once() -> None:
    erp = FakeErp(COMPANY)
    invoice = await erp.post_sales_invoice("c", (await erp.create_sales_invoice("c", DOCUMENT)).id)
    journal = await erp.ensure_customer_payment_journal("c", PAYMENTS)
    common = {
        "customer_number": "C-1",
        "currency": "USD",
        "posting_date": date(2026, 12, 5),
        "amount": invoice.remaining_amount,
        "applies_to_invoice_id": invoice.id,
    }
    payment = ErpCustomerPaymentCreate(external_document_number="pay_1", **common)
    paid = await erp.apply_customer_payment("c", journal.id, payment)
    assert erp.invoices[invoice.id].status == ErpDocumentStatus.PAID
    reversal = ErpCustomerPaymentReversal(
        external_document_number="pay_1-R",
        reverses_document_number=paid.document_number or "",
        **common,
    )

    reversed_ = await erp.reverse_customer_payment("c", journal.id, reversal)

    assert await erp.reverse_customer_payment("c", journal.id, reversal) == reversed_
    assert (reversed_.amount, reversed_.applies_to_invoice_id) == (-paid.amount, invoice.id)
    assert reversed_.document_number != paid.document_number
    owing = erp.invoices[invoice.id]
    assert (owing.status, owing.remaining_amount) == (ErpDocumentStatus.POSTED, paid.amount)
    assert erp.recorder.count("reverse_customer_payment") == 2


async def test_billing_answers_a_repeated_key_with_the_first_object() -> None:
    billing = FakeBilling()
    body = BillingCustomerCreate(reference="cus_1", name="Acme", currency="USD")
    first = await billing.create_customer(body, idempotency_key="k")
    assert await billing.create_customer(body, idempotency_key="k") == first
    assert len(billing.customers) == 1
