"""NetSuite's own ways, in the adapter and the sandbox; the shared scenario is elsewhere.

`test_port_conformance.py` runs the port-level scenario against this adapter too.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest

from sandboxes.demo_estate import first_open_day
from sandboxes.netsuite import SERVICE_ITEM_ID, NetSuiteState, create_app
from system_apis.erp.adapters.netsuite import NetSuiteAdapter
from system_apis.erp.adapters.netsuite_wire import NsCustomerPayment, NsJournalEntry
from system_apis.erp.netsuite_mapping import (
    invoice_to_ns,
    ledger_entries_from_ns,
    payment_from_ns,
)
from system_apis.erp.order_mapping import sales_order_to_ns
from system_apis.erp.schemas import (
    ErpDocumentStatus,
    ErpInvoiceLine,
    ErpSalesCreditMemoCreate,
    ErpSalesInvoiceCreate,
    ErpSalesOrderCreate,
    ErpSalesOrderLine,
)
from system_apis.errors import BackendBusinessError, BackendContractError, BackendNotFound
from system_apis.http import ResilientClient
from tests.support.business_central import (
    DE,
    FAST_SETTINGS,
    PAYMENTS,
    SETTLEMENTS,
    invoice_request,
    payment_request,
    settlement_entry,
)
from tests.system_apis.erp.harness import CUSTOMER, NS_BASE_URL, NsHarness, netsuite_harness


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(NetSuiteState()))
    async with httpx.AsyncClient(transport=transport, base_url=NS_BASE_URL) as client:
        yield client


def error_of(response: httpx.Response) -> dict[str, str]:
    detail: dict[str, str] = response.json()["o:errorDetails"][0]
    return detail


async def test_customers_are_upserted_by_external_id(ns: NsHarness) -> None:
    renamed = await ns.adapter.upsert_customer(
        ns.us_subsidiary, CUSTOMER.model_copy(update={"display_name": "Acme Two"})
    )

    (put,) = ns.requests("PUT", "/customer/eid:C0001")
    assert ns.requests("POST", "/customer") == []
    assert b'"subsidiary":{"id":"1"}' in put.content
    assert renamed.display_name == "Acme Two"
    assert len(ns.state.customers) == 1


async def test_a_posting_reads_no_reference_data_it_has_read_before(ns: NsHarness) -> None:
    """The customer, the document, its approval and the approved document: NetSuite answers
    the create and the approval with `204`, no body, and has no batch of records, so each is
    read back; currencies, tax items and customer numbers are asked once (12 requests before).
    """
    company = ns.us_subsidiary
    for number in ("inv_warm", "inv_counted"):
        ns.recording.exchanges.clear()
        draft = await ns.adapter.create_sales_invoice(
            company, invoice_request(number), known_absent=True
        )
        posted = await ns.adapter.post_sales_invoice(company, draft.id, known_draft=True)

    sent = [(e.request.method, e.request.url.path.split("/v1/")[1]) for e in ns.recording.exchanges]
    assert sent == [
        ("GET", "customer/eid:C0001"),
        ("POST", "invoice"),
        ("GET", f"invoice/{draft.id}"),
        ("PATCH", f"invoice/{draft.id}"),
        ("GET", f"invoice/{draft.id}"),
    ]
    assert (posted.status, posted.number, posted.customer_number) == (
        ErpDocumentStatus.POSTED,
        draft.number,
        "C0001",
    )
    assert posted.currency == "USD"


async def test_an_unknown_customer_is_not_found(ns: NsHarness) -> None:
    with pytest.raises(BackendNotFound) as caught:
        await ns.adapter.create_sales_invoice(
            ns.us_subsidiary, invoice_request("inv_1", customer_number="C9999")
        )

    assert caught.value.vendor_code == "NONEXISTENT_ID"
    assert ns.state.invoices == {}


async def test_a_tax_code_the_subsidiary_lacks_is_a_business_error(ns: NsHarness) -> None:
    line = ErpInvoiceLine(
        sequence=1, description="Seat", quantity=1, unit_price=1, tax_code="REDUCED"
    )

    with pytest.raises(BackendBusinessError) as caught:
        await ns.adapter.create_sales_invoice(
            ns.us_subsidiary, invoice_request("inv_2", lines=(line,))
        )

    assert "0 records for tax code REDUCED for subsidiary 1" in str(caught.value)


async def test_an_invoice_of_another_subsidiary_is_refused(ns: NsHarness) -> None:
    invoice = await ns.adapter.create_sales_invoice(ns.us_subsidiary, invoice_request("inv_3"))

    with pytest.raises(BackendBusinessError) as caught:
        await ns.adapter.get_sales_invoice(ns.state.subsidiary_id(DE), invoice.id)

    assert "belongs to subsidiary 1" in str(caught.value)


def _adapter_answering(status: int, content: bytes, headers: dict[str, str]) -> NetSuiteAdapter:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and "q=" in str(request.url):
            found = (
                b'"items": []' if "externalId" in str(request.url) else b'"items": [{"id": "1"}]'
            )
            return httpx.Response(
                200, content=b'{"hasMore": false, "totalResults": 1, ' + found + b"}"
            )
        if request.method == "GET":
            return httpx.Response(
                200, content=b'{"id": "5", "subsidiary": {"id": "1"}, "symbol": "USD"}'
            )
        return httpx.Response(status, content=content, headers=headers)

    client = ResilientClient(
        backend="erp",
        base_url=NS_BASE_URL,
        settings=FAST_SETTINGS,
        transport=httpx.MockTransport(answer),
    )
    return NetSuiteAdapter(client, line_item_id=SERVICE_ITEM_ID)


async def test_a_create_without_a_location_is_a_contract_error() -> None:
    adapter = _adapter_answering(204, b"", {})

    with pytest.raises(BackendContractError):
        await adapter.create_sales_invoice("1", invoice_request("inv_4"))


async def test_a_netsuite_refusal_keeps_its_error_code() -> None:
    body = (
        b'{"type": "x", "title": "Bad Request", "status": 400,'
        b' "o:errorDetails": [{"detail": "Nope.", "o:errorCode": "USER_ERROR"}]}'
    )
    adapter = _adapter_answering(400, body, {"content-type": "application/json"})

    with pytest.raises(BackendBusinessError) as caught:
        await adapter.create_sales_invoice("1", invoice_request("inv_5"))

    assert (caught.value.vendor_code, caught.value.vendor_status) == ("USER_ERROR", 400)
    assert "Nope." in str(caught.value)


async def create_customer(http: httpx.AsyncClient) -> str:
    response = await http.put(
        "/customer/eid:C0001",
        json={"companyName": "Acme", "subsidiary": {"id": "1"}, "currency": {"id": "1"}},
    )
    assert response.status_code == 204, response.text
    return str(response.headers["Location"]).rsplit("/", 1)[-1]


def invoice_body(customer_id: str, external: str = "inv_1", **changes: Any) -> dict[str, Any]:
    body = {
        "externalId": external,
        "entity": {"id": customer_id},
        "tranDate": first_open_day().isoformat(),
        "approvalStatus": {"id": "1"},
        "item": {
            "items": [
                {
                    "item": {"id": SERVICE_ITEM_ID},
                    "quantity": 2,
                    "rate": 10.5,
                    "taxCode": {"id": "101"},
                }
            ]
        },
    }
    return body | changes


async def test_sandbox_refuses_a_second_invoice_with_the_same_external_id(
    http: httpx.AsyncClient,
) -> None:
    customer = await create_customer(http)

    first = await http.post("/invoice", json=invoice_body(customer))
    second = await http.post("/invoice", json=invoice_body(customer))
    found = await http.get("/invoice", params={"q": 'externalId IS "inv_1"'})

    assert first.status_code == 204
    assert first.headers["Location"].endswith("/invoice/" + found.json()["items"][0]["id"])
    assert (second.status_code, error_of(second)["o:errorCode"]) == (400, "USER_ERROR")
    assert found.json()["totalResults"] == 1


async def test_sandbox_prices_taxes_and_expands_lines_only_on_request(
    http: httpx.AsyncClient,
) -> None:
    customer = await create_customer(http)
    created = await http.post("/invoice", json=invoice_body(customer))
    url = created.headers["Location"].removeprefix(NS_BASE_URL)

    plain = (await http.get(url)).json()
    expanded = (await http.get(url, params={"expandSubResources": "true"})).json()

    assert "items" not in plain["item"]
    assert (expanded["subtotal"], expanded["taxTotal"], expanded["total"]) == (21, 1.86, 22.86)
    assert expanded["item"]["items"][0]["amount"] == 21
    assert expanded["approvalStatus"]["id"] == "1"


async def test_sandbox_approval_posts_and_freezes_the_dates(http: httpx.AsyncClient) -> None:
    customer = await create_customer(http)
    closed = first_open_day().replace(day=1).toordinal() - 1
    created = await http.post(
        "/invoice",
        json=invoice_body(customer, tranDate=first_open_day().fromordinal(closed).isoformat()),
    )
    url = created.headers["Location"].removeprefix(NS_BASE_URL)

    refused = await http.patch(url, json={"approvalStatus": {"id": "2"}})
    await http.patch(url, json={"tranDate": first_open_day().isoformat()})
    approved = await http.patch(url, json={"approvalStatus": {"id": "2"}})
    frozen = await http.patch(url, json={"dueDate": first_open_day().isoformat()})

    assert "closed for posting" in error_of(refused)["detail"]
    assert approved.status_code == 204
    assert (frozen.status_code, error_of(frozen)["o:errorCode"]) == (400, "USER_ERROR")


@pytest.mark.parametrize(
    ("method", "url", "body", "code"),
    [
        pytest.param(
            "GET", "/invoice?q=externalId%20LIKE%20%22x%22", None, "INVALID_CONTENT", id="q"
        ),
        pytest.param("PUT", "/customer/eid:C1", {"nickname": "x"}, "INVALID_CONTENT", id="field"),
        pytest.param(
            "PUT",
            "/customer/eid:C1",
            {"companyName": "X", "subsidiary": {"id": "9"}},
            "INVALID_KEY_OR_REF",
            id="reference",
        ),
        pytest.param("GET", "/invoice/999", None, "NONEXISTENT_ID", id="unknown-record"),
        pytest.param("PUT", "/customer/42", {"companyName": "X"}, "USER_ERROR", id="upsert-by-id"),
    ],
)
async def test_sandbox_refusals_use_netsuite_error_bodies(
    http: httpx.AsyncClient, method: str, url: str, body: dict[str, Any] | None, code: str
) -> None:
    response = await http.request(method, url, json=body)

    assert response.status_code in (400, 404)
    assert response.json()["status"] == response.status_code
    assert error_of(response)["o:errorCode"] == code


async def test_the_ledger_setup_is_read_from_the_subsidiary(ns: NsHarness) -> None:
    company = await ns.adapter.get_company(ns.us_subsidiary)
    assert (company.id, company.name, company.display_name) == (
        ns.us_subsidiary,
        "LG-US",
        "Ledgergate Demo US Inc.",
    )
    assert await ns.adapter.list_tax_codes(ns.us_subsidiary) == {"STANDARD", "EXEMPT"}
    assert await ns.adapter.list_tax_codes("2") == {"STANDARD", "REDUCED", "REVERSE"}
    codes = {currency.code for currency in await ns.adapter.list_currencies(ns.us_subsidiary)}
    assert {"USD", "EUR"} <= codes
    with pytest.raises(BackendNotFound):
        await ns.adapter.get_company("99")


async def test_a_credit_memo_is_applied_once_to_its_invoice(ns: NsHarness) -> None:
    draft = await ns.adapter.create_sales_invoice(ns.us_subsidiary, invoice_request("inv_1"))
    invoice = await ns.adapter.post_sales_invoice(ns.us_subsidiary, draft.id)
    memo = ErpSalesCreditMemoCreate(
        external_document_number="cm_1",
        customer_number="C0001",
        currency="USD",
        posting_date=invoice.posting_date or date.today(),
        due_date=invoice.posting_date or date.today(),
        applies_to_invoice_id=invoice.id,
        lines=(
            ErpInvoiceLine(
                sequence=1, description="Credit", quantity=1, unit_price=1000, tax_code="EXEMPT"
            ),
        ),
    )
    created = await ns.adapter.create_sales_credit_memo(ns.us_subsidiary, memo)
    again = await ns.adapter.create_sales_credit_memo(ns.us_subsidiary, memo)
    posted = await ns.adapter.post_sales_credit_memo(ns.us_subsidiary, created.id)

    assert again.id == created.id == posted.id
    assert len(ns.state.credit_memos) == 1
    assert (posted.status, posted.applies_to_invoice_id, posted.total_including_tax) == (
        ErpDocumentStatus.PAID,
        invoice.id,
        1000,
    )
    assert await ns.adapter.find_sales_credit_memo(ns.us_subsidiary, "cm_1") == posted
    after = await ns.adapter.get_sales_invoice(ns.us_subsidiary, invoice.id)
    assert after.remaining_amount == invoice.remaining_amount - 1000


async def test_a_payment_is_transformed_from_the_invoice_it_pays(ns: NsHarness) -> None:
    draft = await ns.adapter.create_sales_invoice(ns.us_subsidiary, invoice_request("inv_2"))
    invoice = await ns.adapter.post_sales_invoice(ns.us_subsidiary, draft.id)
    journal = await ns.adapter.ensure_customer_payment_journal(ns.us_subsidiary, PAYMENTS)
    ns.recording.exchanges.clear()

    await ns.adapter.apply_customer_payment(
        ns.us_subsidiary, journal.id, payment_request("pay_1", invoice.id, 1000)
    )

    (transform,) = ns.requests("POST", "/!transform/customerPayment")
    assert transform.url.path.endswith(f"/invoice/{invoice.id}/!transform/customerPayment")
    assert json.loads(transform.content) == {
        "externalId": "pay_1",
        "tranDate": first_open_day().isoformat(),
        "payment": 10,
        "account": {"id": journal.id},
        "memo": "Card payment",
    }
    bank = next(a for a in ns.state.accounts.values() if a.acct_number == "10100")
    assert journal.id == bank.id


async def test_journal_entries_are_created_pending_approval_and_approved_to_post(
    ns: NsHarness,
) -> None:
    journal = await ns.adapter.ensure_journal(ns.us_subsidiary, SETTLEMENTS)
    await ns.adapter.add_journal_entry(ns.us_subsidiary, journal.id, settlement_entry("STL-9"))
    await ns.adapter.post_journal_entry(ns.us_subsidiary, journal.id, "STL-9", "USD")

    (create,) = ns.requests("POST", "/journalEntry")
    body = json.loads(create.content)
    assert (body["externalId"], body["tranId"], body["approved"]) == ("STL-9", "STL-9", False)
    assert [(line.get("debit"), line.get("credit")) for line in body["line"]["items"]] == [
        (25, None),
        (None, 25),
    ]
    (entry_id,) = ns.state.journal_entries
    (approve,) = ns.requests("PATCH", f"/journalEntry/{entry_id}")
    assert json.loads(approve.content) == {"approved": True}
    assert journal.id == SETTLEMENTS.code


async def test_journals_netsuite_cannot_keep_are_business_errors(ns: NsHarness) -> None:
    with pytest.raises(BackendBusinessError, match="balancing account"):
        await ns.adapter.ensure_journal(ns.us_subsidiary, PAYMENTS)
    with pytest.raises(BackendBusinessError, match="no bank account"):
        await ns.adapter.ensure_customer_payment_journal(
            ns.us_subsidiary, PAYMENTS.model_copy(update={"balancing_account_number": "99999"})
        )
    entry = settlement_entry("STL-8")
    unknown = entry.lines[0].model_copy(update={"account_number": "99999"})
    with pytest.raises(BackendBusinessError, match="no account numbered"):
        await ns.adapter.add_journal_entry(
            ns.us_subsidiary,
            SETTLEMENTS.code,
            entry.model_copy(update={"lines": (unknown, *entry.lines[1:])}),
        )


async def test_streams_query_the_period_and_page_by_offset(ns: NsHarness) -> None:
    paged = netsuite_harness(ns.state, page_size=2)
    for n in range(3):
        draft = await paged.adapter.create_sales_invoice(
            ns.us_subsidiary, invoice_request(f"inv_p{n}")
        )
        await paged.adapter.post_sales_invoice(ns.us_subsidiary, draft.id)
    paged.recording.exchanges.clear()
    start = first_open_day()

    listed = await paged.adapter.list_sales_invoices(ns.us_subsidiary, start, start)

    assert len(listed) == 3
    pages = paged.requests("GET", "/invoice")
    assert [(r.url.params["offset"], r.url.params["limit"]) for r in pages] == [
        ("0", "2"),
        ("2", "2"),
    ]
    day = f"{start.month}/{start.day}/{start.year}"
    assert pages[0].url.params["q"] == (
        f"subsidiary ANY_OF [{ns.us_subsidiary}] AND approvalStatus ANY_OF [2] AND "
        f'tranDate ON_OR_AFTER "{day}" AND tranDate ON_OR_BEFORE "{day}"'
    )


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"line": {"items": [{"account": {"id": "X"}, "debit": 1}]}}, "at least two lines"),
        (
            {
                "line": {
                    "items": [
                        {"account": {"id": "ACCOUNT"}, "debit": 1},
                        {"account": {"id": "ACCOUNT"}, "credit": 2},
                    ]
                }
            },
            "not equal",
        ),
        (
            {
                "line": {
                    "items": [
                        {"account": {"id": "ACCOUNT"}, "debit": 1, "credit": 1},
                        {"account": {"id": "ACCOUNT"}, "credit": 0},
                    ]
                }
            },
            "either a debit or a credit",
        ),
        ({"currency": {"id": "2"}}, "Invalid currency reference"),
    ],
)
async def test_sandbox_refuses_journal_entries_that_do_not_balance(
    body: dict[str, Any], detail: str
) -> None:
    state = NetSuiteState()
    account = next(iter(state.accounts))
    transport = httpx.ASGITransport(app=create_app(state))
    wanted = {
        "externalId": "JE-1",
        "subsidiary": {"id": "1"},
        "currency": {"id": "1"},
        "line": {
            "items": [
                {"account": {"id": account}, "debit": 1},
                {"account": {"id": account}, "credit": 1},
            ]
        },
    } | json.loads(json.dumps(body).replace('"ACCOUNT"', f'"{account}"'))
    async with httpx.AsyncClient(transport=transport, base_url=NS_BASE_URL) as client:
        refused = await client.post("/journalEntry", json=wanted)
        query = await client.get("/journalEntry", params={"q": 'tranDate ON_OR_AFTER "13/1/2026"'})

    assert refused.status_code == 400
    assert detail in error_of(refused)["detail"]
    assert state.journal_entries == {}
    assert error_of(query)["o:errorCode"] == "INVALID_CONTENT"


def _ref(record_id: str) -> dict[str, str]:
    return {"id": record_id}


def test_a_payment_applied_to_several_invoices_is_outside_the_contract() -> None:
    applied = {"apply": True, "amount": 1}
    payment = NsCustomerPayment.model_validate(
        {
            "id": "7",
            "customer": _ref("1"),
            "subsidiary": _ref("1"),
            "currency": _ref("1"),
            "account": _ref("3"),
            "payment": 2,
            "apply": {"items": [{"doc": _ref("5"), **applied}, {"doc": _ref("6"), **applied}]},
        }
    )

    with pytest.raises(ValueError, match="applied to 2 invoices"):
        payment_from_ns(payment, "C0001", "USD")


def test_ledger_entries_keep_minor_units_and_refuse_finer_amounts() -> None:
    def entry(debit: str) -> NsJournalEntry:
        lines = [
            {"line": 0, "account": _ref("60"), "debit": debit},
            {"line": 1, "account": _ref("21"), "credit": debit},
        ]
        return NsJournalEntry.model_validate(
            {
                "id": "42",
                "tranId": "STL-1",
                "subsidiary": _ref("1"),
                "currency": _ref("1"),
                "approved": True,
                "line": {"items": lines},
            }
        )

    [payable] = ledger_entries_from_ns(entry("12.5"), {"21": "21500"}, "USD")

    assert (payable.entry_number, payable.account_number, payable.debit, payable.credit) == (
        42001,
        "21500",
        0,
        1250,
    )
    with pytest.raises(ValueError, match="precision"):
        ledger_entries_from_ns(entry("12.505"), {"21": "21500"}, "USD")


def test_sales_order_lines_are_written_as_invoice_lines_in_sequence_order() -> None:
    lines = (
        ErpInvoiceLine(sequence=2, description="Seats", quantity=3, unit_price=1999, tax_code="S"),
        ErpInvoiceLine(sequence=1, description="Setup", quantity=1, unit_price=5000, tax_code="Z"),
    )
    parties = {"customer_number": "C0001", "currency": "USD"}
    ids = {"company_id": "1", "customer_id": "7", "currency_id": "2"}
    tax_code_ids = {"S": "10", "Z": "11"}
    invoice = invoice_to_ns(
        ErpSalesInvoiceCreate(
            external_document_number="INV-1",
            posting_date=date(2026, 1, 1),
            due_date=date(2026, 1, 31),
            lines=lines,
            **parties,
        ),
        **ids,
        tax_code_ids=tax_code_ids,
        line_item_id="SVC",
    )
    order = sales_order_to_ns(
        ErpSalesOrderCreate(
            external_document_number="SO-1",
            order_date=date(2026, 1, 1),
            requested_delivery_date=date(2026, 1, 1),
            lines=tuple(
                ErpSalesOrderLine(item_number="SVC", **line.model_dump()) for line in lines
            ),
            **parties,
        ),
        **ids,
        item_ids={"SVC": "SVC"},
        tax_code_ids=tax_code_ids,
    )

    assert order.item == invoice.item
    assert [line.description for line in order.item.items] == ["Setup", "Seats"]
