"""What the BC adapter sends, and what the BC sandbox answers, against BC's OpenAPI document.

A scenario drives every `ErpPort` method through the adapter into the sandbox while a
recording transport keeps each exchange; every request must be one the vendor
document allows and every successful answer must match the declared response schema.
Refusals are not declared in the document, so their bodies are checked against BC's
OData error shape instead.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import yaml

from sandboxes.demo_estate import closed_period, first_open_day
from system_apis.erp.schemas import (
    ErpCustomerPaymentReversal,
    ErpCustomerUpsert,
    ErpInvoiceLine,
    ErpJournalLine,
    ErpSalesOrderCreate,
    ErpSalesOrderLine,
)
from system_apis.errors import BackendBusinessError
from tests.support.business_central import (
    BC_BASE_PATH,
    BC_BASE_URL,
    BC_SPEC,
    DE,
    PAYMENTS,
    SETTLEMENTS,
    US,
    BcHarness,
    bc_harness,
    credit_memo_request,
    invoice_request,
    payment_request,
    settlement_entry,
    unbatched,
)
from tests.support.openapi_check import OpenApiDocument
from tests.support.recording import Exchange
from tests.support.vendor_specs import vendor_spec_text

CUSTOMER = ErpCustomerUpsert(
    number="C0001", display_name="Acme Corp", email="billing@acme.example", currency="USD"
)
ORDER = ErpSalesOrderCreate(
    external_document_number="so_c1",
    customer_number="C0001",
    currency="USD",
    order_date=first_open_day(),
    requested_delivery_date=first_open_day(),
    lines=(
        ErpSalesOrderLine(
            sequence=10000,
            item_number="LG-PRO",
            description="Ledgergate Pro",
            quantity=2,
            unit_price=4900,
            tax_code="STANDARD",
        ),
    ),
)
EXPECTED_OPERATIONS = {
    "getCompany",
    "listAccounts",
    "listItems",
    "listTaxGroups",
    "listCustomers",
    "postCustomer",
    "patchCustomer",
    "listSalesInvoices",
    "postSalesInvoice",
    "getSalesInvoice",
    "patchSalesInvoice",
    "postSalesInvoiceLineForSalesInvoice",
    "postActionSalesInvoices",
    "deleteSalesInvoice",
    "listCurrencies",
    "listSalesCreditMemos",
    "postSalesCreditMemo",
    "getSalesCreditMemo",
    "patchSalesCreditMemo",
    "postSalesCreditMemoLineForSalesCreditMemo",
    "postActionSalesCreditMemos",
    "deleteSalesCreditMemo",
    "listJournals",
    "postJournal",
    "patchJournal",
    "listJournalLinesForJournal",
    "postJournalLineForJournal",
    "patchJournalLineForJournal",
    "postActionJournals",
    "listGeneralLedgerEntries",
    "listCustomerPaymentJournals",
    "postCustomerPaymentJournal",
    "patchCustomerPaymentJournal",
    "listCustomerPaymentsForCustomerPaymentJournal",
    "postCustomerPaymentForCustomerPaymentJournal",
    "listCustomerFinancialDetailsForCustomer",
    "listSalesOrders",
    "postSalesOrder",
    "getSalesOrder",
    "postSalesOrderLineForSalesOrder",
}


@pytest.fixture(scope="module")
def spec() -> OpenApiDocument:
    return OpenApiDocument(yaml.safe_load(vendor_spec_text(BC_SPEC)), base_path=BC_BASE_PATH)


async def happy_path(bc: BcHarness) -> None:
    """Every port method, including the update and resume branches."""
    adapter = bc.adapter
    await adapter.get_company(US.id)
    await adapter.list_tax_codes(DE.id)
    assert len([item async for item in adapter.stream_items(US.id, currency="USD")]) == 2
    await adapter.upsert_customer(US.id, CUSTOMER)
    await adapter.upsert_customer(US.id, CUSTOMER.model_copy(update={"display_name": "Acme Two"}))
    assert await adapter.find_sales_invoice(US.id, "inv_c1") is None
    closed_day, _ = closed_period()
    await adapter.create_sales_invoice(US.id, invoice_request("inv_c1", posting_date=closed_day))
    draft = await adapter.create_sales_invoice(US.id, invoice_request("inv_c1"))
    posted = await adapter.post_sales_invoice(US.id, draft.id)
    await adapter.post_sales_invoice(US.id, draft.id)
    await adapter.post_new_sales_invoice(US.id, invoice_request("inv_c3"))
    partial = invoice_request("inv_c2")  # a draft holding its first line is completed
    await adapter.create_sales_invoice(
        US.id, partial.model_copy(update={"lines": partial.lines[:1]})
    )
    await adapter.create_sales_invoice(US.id, partial)
    await adapter.list_currencies(US.id)
    await adapter.get_sales_invoice(US.id, draft.id)
    assert posted.number is not None
    await adapter.find_sales_invoice_by_number(US.id, posted.number)
    await adapter.list_sales_invoices(US.id, first_open_day(), first_open_day().replace(day=28))

    memo = credit_memo_request("cm_c1", applies_to_invoice_id=posted.id, posting_date=closed_day)
    assert await adapter.find_sales_credit_memo(US.id, "cm_c1") is None
    await adapter.create_sales_credit_memo(US.id, memo)
    memo = memo.model_copy(update={"posting_date": first_open_day()})
    memo_draft = await adapter.create_sales_credit_memo(US.id, memo)
    await adapter.post_sales_credit_memo(US.id, memo_draft.id)
    await adapter.post_sales_credit_memo(US.id, memo_draft.id)
    partial_memo = memo.model_copy(update={"external_document_number": "cm_c2"})
    await adapter.create_sales_credit_memo(US.id, partial_memo.model_copy(update={"lines": ()}))
    await adapter.create_sales_credit_memo(US.id, partial_memo)  # its line added to the draft

    journal = await adapter.ensure_journal(US.id, SETTLEMENTS)
    await adapter.ensure_journal(US.id, SETTLEMENTS.model_copy(update={"display_name": "Renamed"}))
    await adapter.add_journal_entry(
        US.id, journal.id, settlement_entry("STL-C1", posting_date=closed_day)
    )
    await adapter.add_journal_entry(US.id, journal.id, settlement_entry("STL-C1"))
    await adapter.post_journal_entry(US.id, journal.id, "STL-C1", "USD")
    await adapter.post_journal_entry(US.id, journal.id, "STL-C1", "USD")
    month = (first_open_day(), first_open_day().replace(day=28))
    await adapter.list_sales_credit_memos(US.id, *month)
    await adapter.list_ledger_entries(US.id, *month, account_number="21500", currency="USD")

    payments = await adapter.ensure_customer_payment_journal(US.id, PAYMENTS)
    await adapter.ensure_customer_payment_journal(
        US.id, PAYMENTS.model_copy(update={"balancing_account_number": None})
    )
    payment = payment_request("pay_c1", posted.id, 1000)
    await adapter.apply_customer_payment(US.id, payments.id, payment)
    await adapter.apply_customer_payment(US.id, payments.id, payment)
    reversal = ErpCustomerPaymentReversal(
        external_document_number="pay_c1-R",
        reverses_document_number="G00001",
        customer_number=payment.customer_number,
        currency="USD",
        posting_date=first_open_day(),
        amount=1000,
        applies_to_invoice_id=posted.id,
        description="Reversal of G00001: cheque bounced",
    )
    await adapter.reverse_customer_payment(US.id, payments.id, reversal)
    await adapter.reverse_customer_payment(US.id, payments.id, reversal)
    deferred = (
        ErpInvoiceLine(
            sequence=1,
            description="Annual plan",
            quantity=1,
            unit_price=12000,
            tax_code="STANDARD",
            account_number="24000",
        ),
    )
    booked = await adapter.create_sales_invoice(US.id, invoice_request("inv_c6", lines=deferred))
    booked = await adapter.post_sales_invoice(US.id, booked.id)
    memo = credit_memo_request("cm_c4", applies_to_invoice_id=booked.id)
    memo = memo.model_copy(update={"lines": deferred})
    await adapter.post_sales_credit_memo(
        US.id, (await adapter.create_sales_credit_memo(US.id, memo)).id
    )
    assert (
        len(
            await adapter.list_ledger_entries(US.id, *month, account_number="24000", currency="USD")
        )
        == 2
    )
    left = await adapter.create_sales_invoice(US.id, invoice_request("inv_c5"))
    await adapter.delete_sales_invoice_draft(US.id, left.id)
    left_memo = await adapter.create_sales_credit_memo(US.id, credit_memo_request("cm_c3"))
    await adapter.delete_sales_credit_memo_draft(US.id, left_memo.id)

    credit = await adapter.get_customer_credit(US.id, CUSTOMER.number, currency="USD")
    assert (credit.blocked, credit.credit_limit) == (False, None)
    assert await adapter.find_sales_order(US.id, "so_c1") is None
    order = await adapter.create_sales_order(US.id, ORDER)
    assert await adapter.create_sales_order(US.id, ORDER) == order
    assert await adapter.get_sales_order(US.id, order.id) == order
    assert (order.line_count, order.total_excluding_tax) == (1, 2 * 4900)


async def refusals(bc: BcHarness) -> None:
    """Requests BC refuses on its rules: they must still be well-formed requests."""
    adapter = bc.adapter
    await adapter.upsert_customer(US.id, CUSTOMER)
    closed_day, _ = closed_period()
    draft = await adapter.create_sales_invoice(
        US.id, invoice_request("inv_c2", posting_date=closed_day)
    )
    bad_line = ErpInvoiceLine(
        sequence=1, description="Seat", quantity=1, unit_price=100, tax_code="NOPE"
    )
    invoice = await adapter.create_sales_invoice(US.id, invoice_request("inv_c4"))
    invoice = await adapter.post_sales_invoice(US.id, invoice.id)
    too_large = credit_memo_request(
        "cm_c2", applies_to_invoice_id=invoice.id, unit_price=invoice.total_including_tax
    )
    memo = await adapter.create_sales_credit_memo(US.id, too_large)
    journal = await adapter.ensure_journal(US.id, SETTLEMENTS)
    unbalanced = settlement_entry("STL-C2")
    unbalanced = unbalanced.model_copy(
        update={
            "lines": (
                *unbalanced.lines,
                ErpJournalLine(account_number="60100", amount=1, description="Off"),
            )
        }
    )
    await adapter.add_journal_entry(US.id, journal.id, unbalanced)
    payments = await adapter.ensure_customer_payment_journal(US.id, PAYMENTS)
    attempts = [
        adapter.post_sales_invoice(US.id, draft.id),
        adapter.create_sales_invoice(US.id, invoice_request("inv_c3", lines=(bad_line,))),
        adapter.get_company("00000000-0000-4000-8000-00000000dead"),
        adapter.post_sales_credit_memo(US.id, memo.id),
        adapter.post_journal_entry(US.id, journal.id, "STL-C2", "USD"),
        adapter.apply_customer_payment(
            US.id,
            payments.id,
            payment_request("pay_c2", invoice.id, invoice.total_including_tax + 1),
        ),
        adapter.delete_sales_invoice_draft(US.id, invoice.id),
    ]
    for attempt in attempts:
        with pytest.raises(BackendBusinessError):
            await attempt


def operation_ids(spec: OpenApiDocument, exchanges: list[Exchange]) -> set[str]:
    ids = set()
    for exchange in exchanges:
        path = exchange.request.url.path.removeprefix(BC_BASE_PATH)
        operation = spec.operation(exchange.request.method, path)
        assert operation is not None
        ids.add(operation.spec["operationId"])
    return ids


async def test_every_exchange_of_the_port_conforms_to_the_vendor_document(
    spec: OpenApiDocument,
) -> None:
    bc = bc_harness()
    await happy_path(bc)
    exchanges = unbatched(bc.recording.exchanges)

    problems = [p for exchange in exchanges for p in spec.check_exchange(exchange)]

    assert problems == []
    assert all(exchange.response.is_success for exchange in exchanges)
    assert operation_ids(spec, exchanges) == EXPECTED_OPERATIONS


async def test_refused_requests_are_well_formed_and_answered_in_bc_error_shape(
    spec: OpenApiDocument,
) -> None:
    bc = bc_harness()
    await refusals(bc)
    exchanges = unbatched(bc.recording.exchanges)
    failures = [e for e in exchanges if not e.response.is_success]

    problems = [p for e in exchanges for p in spec.check_request(e.request, e.request_body)]

    assert problems == []
    # A refused post's read, in the same `$batch`, is answered 424 Failed Dependency.
    statuses = [400, 424, 400, 404, 400, 424, 400, 424, 400, 400]
    assert [e.response.status_code for e in failures] == statuses
    for failure in failures:
        error = json.loads(failure.response_body)["error"]
        assert set(error) == {"code", "message"}
        assert all(isinstance(value, str) and value for value in error.values())


def request(
    method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None
) -> httpx.Request:
    return httpx.Request(method, f"{BC_BASE_URL}{path}", json=json, params=params)


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        pytest.param(
            request("GET", f"/companies({US.id})/invoices"),
            "no such operation",
            id="unknown-path",
        ),
        pytest.param(
            request("DELETE", f"/companies({US.id})/taxGroups"),
            "no such operation",
            id="unknown-method",
        ),
        pytest.param(
            request("GET", "/companies(LG-US)"),
            "path parameter company_id",
            id="company-id-not-a-uuid",
        ),
        pytest.param(
            request("GET", f"/companies({US.id})/customers", params={"$orderby": "number"}),
            "'$orderby' is not declared",
            id="undeclared-query-parameter",
        ),
        pytest.param(
            request("GET", f"/companies({US.id})/customers", params={"$top": "many"}),
            "query parameter $top",
            id="query-parameter-of-wrong-type",
        ),
        pytest.param(
            request("POST", f"/companies({US.id})/customers", json={"displayName": 42}),
            "displayName: 42 is not of type 'string'",
            id="body-field-of-wrong-type",
        ),
        pytest.param(
            request(
                "POST",
                f"/companies({US.id})/customers",
                json={"number": "C" * 21, "displayName": "X"},
            ),
            "is too long",
            id="body-field-too-long",
        ),
        pytest.param(
            request(
                "POST",
                f"/companies({US.id})/salesInvoices",
                json={"invoiceDate": "2025-06-01"},
            ),
            "is not a 'date-time'",
            id="date-where-date-time-is-declared",
        ),
        pytest.param(
            request("PATCH", f"/companies({US.id})/customers({US.id})", json={"displayName": "X"}),
            "required header 'If-Match' is missing",
            id="patch-without-if-match",
        ),
        pytest.param(
            request(
                "POST", f"/companies({US.id})/salesInvoices({US.id})/Microsoft.NAV.post", json={}
            ),
            "a body the operation does not take",
            id="body-on-an-action",
        ),
        pytest.param(
            httpx.Request("GET", f"https://api.example/elsewhere/companies({US.id})"),
            "no such operation",
            id="outside-the-base-path",
        ),
    ],
)
def test_the_checker_catches_bad_requests(
    spec: OpenApiDocument, bad: httpx.Request, expected: str
) -> None:
    problems = spec.check_request(bad, bad.read())

    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        pytest.param(200, b'{"value": [{"id": "not-a-uuid"}]}', "is not a 'uuid'", id="format"),
        pytest.param(200, b'{"value": [{"code": 7}]}', "7 is not of type", id="type"),
        pytest.param(200, b'{"value": {}}', "is not of type 'array'", id="shape"),
        pytest.param(200, b"<html/>", "not JSON", id="not-json"),
        pytest.param(201, b'{"value": []}', "status 201 is not declared", id="status"),
    ],
)
def test_the_checker_catches_bad_responses(
    spec: OpenApiDocument, status: int, body: bytes, expected: str
) -> None:
    listing = request("GET", f"/companies({US.id})/taxGroups")

    problems = spec.check_response(listing, status, "application/json", body)

    assert any(expected in problem for problem in problems), problems


def test_the_checker_accepts_nullable_values_and_an_empty_action_answer(
    spec: OpenApiDocument,
) -> None:
    listing = request("GET", f"/companies({US.id})/taxGroups")
    action = request("POST", f"/companies({US.id})/salesInvoices({US.id})/Microsoft.NAV.post")
    nullable = b'{"value": [{"id": "%s", "code": null, "lastModifiedDateTime": null}]}' % (
        US.id.encode()
    )

    assert spec.check_response(listing, 200, "application/json", nullable) == []
    assert spec.check_response(action, 204, None, b"") == []
    assert spec.check_response(action, 204, None, b"{}") != []
