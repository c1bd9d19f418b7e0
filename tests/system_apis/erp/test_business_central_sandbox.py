"""The Business Central sandbox's rules, spoken to directly over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest

from sandboxes.business_central import (
    REPEATED_CREATES_PATH,
    BusinessCentralState,
    create_app,
)
from sandboxes.demo_estate import closed_period, first_open_day
from tests.support.business_central import BC_BASE_URL, DE, US

TODAY = date(2025, 6, 17)


@pytest.fixture
def state() -> BusinessCentralState:
    return BusinessCentralState(today=TODAY)


@pytest.fixture
async def http(state: BusinessCentralState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url=BC_BASE_URL) as client:
        yield client


def company(company_id: str = DE.id) -> str:
    return f"/companies({company_id})"


def error_of(response: httpx.Response) -> dict[str, str]:
    error: dict[str, str] = response.json()["error"]
    return error


async def create_customer(http: httpx.AsyncClient, number: str = "C0001") -> dict[str, Any]:
    response = await http.post(
        f"{company()}/customers",
        json={"number": number, "displayName": "Acme GmbH", "currencyCode": "EUR"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def create_invoice(
    http: httpx.AsyncClient, external: str = "inv_1", invoice_date: str = "2025-06-02"
) -> dict[str, Any]:
    response = await http.post(
        f"{company()}/salesInvoices",
        json={
            "externalDocumentNumber": external,
            "customerNumber": "C0001",
            "invoiceDate": f"{invoice_date}T00:00:00Z",
            "dueDate": "2025-06-30T00:00:00Z",
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def add_line(http: httpx.AsyncClient, invoice_id: str, **fields: Any) -> httpx.Response:
    body = {"sequence": 10000, "description": "Seat", "quantity": 2, "unitPrice": 10.0}
    return await http.post(
        f"{company()}/salesInvoices({invoice_id})/salesInvoiceLines", json=body | fields
    )


async def test_companies_list_and_get(http: httpx.AsyncClient) -> None:
    listed = (await http.get("/companies")).json()["value"]
    single = (await http.get(company(US.id))).json()

    assert [c["id"] for c in listed] == [US.id, DE.id]
    assert (single["name"], single["displayName"]) == (US.code, US.name)


async def test_unknown_company_is_a_bc_404(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{company('00000000-0000-4000-8000-000000000000')}/customers")

    assert response.status_code == 404
    assert error_of(response)["code"] == "Internal_CompanyNotFound"


async def test_unknown_path_and_method_answer_bc_errors(http: httpx.AsyncClient) -> None:
    missing = await http.get(f"{company()}/vendors")
    not_allowed = await http.delete(f"{company()}/customers")

    assert (missing.status_code, error_of(missing)["code"]) == (404, "BadRequest_ResourceNotFound")
    assert (not_allowed.status_code, error_of(not_allowed)["code"]) == (
        405,
        "BadRequest_MethodNotAllowed",
    )


async def test_tax_groups_are_the_company_codes(http: httpx.AsyncClient) -> None:
    groups = (await http.get(f"{company()}/taxGroups")).json()["value"]

    assert {g["code"] for g in groups} == set(DE.tax_codes)
    assert {g["taxType"] for g in groups} == {"VAT"}


async def test_customers_are_created_filtered_and_unique_by_number(
    http: httpx.AsyncClient,
) -> None:
    created = await create_customer(http)
    await create_customer(http, "C0002")

    found = await http.get(f"{company()}/customers", params={"$filter": "number eq 'C0001'"})
    duplicate = await http.post(
        f"{company()}/customers", json={"number": "C0001", "displayName": "Again"}
    )

    assert created["@odata.etag"].startswith('W/"')
    assert [c["id"] for c in found.json()["value"]] == [created["id"]]
    assert duplicate.status_code == 400
    assert error_of(duplicate)["code"] == "Internal_EntityWithSameKeyExists"


async def test_customer_patch_honours_the_etag(http: httpx.AsyncClient) -> None:
    created = await create_customer(http)
    url = f"{company()}/customers({created['id']})"

    no_token = await http.patch(url, json={"displayName": "New"})
    stale = await http.patch(url, json={"displayName": "New"}, headers={"If-Match": 'W/"old"'})
    fresh = await http.patch(
        url, json={"displayName": "New"}, headers={"If-Match": created["@odata.etag"]}
    )
    replayed = await http.patch(
        url, json={"displayName": "Newer"}, headers={"If-Match": created["@odata.etag"]}
    )
    forced = await http.patch(url, json={"displayName": "Forced"}, headers={"If-Match": "*"})

    assert (no_token.status_code, error_of(no_token)["code"]) == (400, "BadRequest_InvalidToken")
    assert (stale.status_code, error_of(stale)["code"]) == (412, "Request_EntityChanged")
    assert fresh.status_code == 200
    assert fresh.json()["displayName"] == "New"
    assert fresh.json()["@odata.etag"] != created["@odata.etag"]
    assert replayed.status_code == 412
    assert forced.json()["displayName"] == "Forced"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param({"displayName": "X", "creditLimit": 5}, "BadRequest", id="unknown-property"),
        pytest.param({"displayName": 5}, "BadRequest", id="wrong-type"),
        pytest.param({"number": "C" * 21}, "Application_StringExceededLength", id="too-long"),
        pytest.param({"currencyCode": "XXX"}, "Internal_InvalidTableRelation", id="currency"),
    ],
)
async def test_customer_bodies_are_validated(
    http: httpx.AsyncClient, body: dict[str, Any], code: str
) -> None:
    response = await http.post(f"{company()}/customers", json=body)

    assert response.status_code == 400
    assert error_of(response)["code"] == code


async def test_malformed_json_is_a_bad_request(http: httpx.AsyncClient) -> None:
    response = await http.post(f"{company()}/customers", content=b"{not json")

    assert (response.status_code, error_of(response)["code"]) == (400, "BadRequest")


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("startswith(number, 'C')", id="function"),
        pytest.param("number eq 'C' or number eq 'D' and number ne 'E'", id="or-with-and"),
        pytest.param("number eq 'C' or number eq 7", id="or-incompatible-type"),
        pytest.param("number eq 'C' and", id="dangling-and"),
        pytest.param("email eq 'a'", id="unknown-property"),
        pytest.param("number eq 7", id="incompatible-type"),
    ],
)
async def test_unsupported_filters_are_refused(http: httpx.AsyncClient, expression: str) -> None:
    await create_customer(http)

    response = await http.get(f"{company()}/customers", params={"$filter": expression})

    assert (response.status_code, error_of(response)["code"]) == (400, "BadRequest")


async def test_an_invoice_needs_a_known_customer(http: httpx.AsyncClient) -> None:
    missing = await http.post(f"{company()}/salesInvoices", json={"externalDocumentNumber": "x"})
    unknown = await http.post(
        f"{company()}/salesInvoices", json={"externalDocumentNumber": "x", "customerNumber": "C9"}
    )

    assert error_of(missing)["message"].startswith(
        "A customerNumber or a customerID must be provided."
    )
    assert error_of(unknown)["code"] == "Internal_RecordNotFound"


async def test_an_external_document_number_makes_one_document(
    http: httpx.AsyncClient, state: BusinessCentralState
) -> None:
    await create_customer(http)
    first = await create_invoice(http)
    second = await create_invoice(http)
    found = await http.get(
        f"{company()}/salesInvoices", params={"$filter": "externalDocumentNumber eq 'inv_1'"}
    )

    repeated = await http.get(http.base_url.copy_with(path=REPEATED_CREATES_PATH))

    assert second["id"] == first["id"]
    assert state.document_count(DE.id, "inv_1") == 1
    assert repeated.json() == {"inv_1": 1}  # the second create relied on the rule
    assert [i["id"] for i in found.json()["value"]] == [first["id"]]
    assert (first["status"], first["number"]) == ("Draft", "S-INV102001")
    assert (first["invoiceDate"], first["currencyCode"]) == ("2025-06-02T00:00:00Z", "EUR")


async def test_lines_compute_tax_and_header_totals(http: httpx.AsyncClient) -> None:
    await create_customer(http)
    invoice = await create_invoice(http)

    standard = await add_line(http, invoice["id"], taxCode="STANDARD")
    reduced = await add_line(http, invoice["id"], sequence=20000, quantity=1, taxCode="REDUCED")
    header = await http.get(
        f"{company()}/salesInvoices({invoice['id']})", params={"$expand": "salesInvoiceLines"}
    )
    lines = await http.get(f"{company()}/salesInvoices({invoice['id']})/salesInvoiceLines")

    assert standard.status_code == reduced.status_code == 201
    line = standard.json()
    assert (line["amountExcludingTax"], line["taxPercent"], line["totalTaxAmount"]) == (
        20.0,
        19.0,
        3.8,
    )
    assert line["amountIncludingTax"] == 23.8
    assert line["id"] == f"{invoice['id']}-10000"
    totals = header.json()
    assert (
        totals["totalAmountExcludingTax"],
        totals["totalTaxAmount"],
        totals["totalAmountIncludingTax"],
    ) == (30.0, 4.5, 34.5)
    assert [item["sequence"] for item in totals["salesInvoiceLines"]] == [10000, 20000]
    assert len(lines.json()["value"]) == 2


async def test_line_rules(http: httpx.AsyncClient) -> None:
    await create_customer(http)
    invoice = await create_invoice(http)
    await add_line(http, invoice["id"], taxCode="STANDARD")

    unknown_tax = await add_line(http, invoice["id"], sequence=20000, taxCode="EXEMPT")
    same_sequence = await add_line(http, invoice["id"], taxCode="STANDARD")

    assert (unknown_tax.status_code, error_of(unknown_tax)["code"]) == (
        400,
        "Internal_InvalidTableRelation",
    )
    assert "(EXEMPT)" in error_of(unknown_tax)["message"]
    assert error_of(same_sequence)["code"] == "Internal_EntityWithSameKeyExists"


async def test_posting_rules(http: httpx.AsyncClient, state: BusinessCentralState) -> None:
    await create_customer(http)
    invoice = await create_invoice(http)
    post = f"{company()}/salesInvoices({invoice['id']})/Microsoft.NAV.post"

    empty = await http.post(post)
    await add_line(http, invoice["id"], taxCode="STANDARD")
    posted = await http.post(post)
    again = await http.post(post)
    document = (await http.get(f"{company()}/salesInvoices({invoice['id']})")).json()

    assert (empty.status_code, error_of(empty)["code"]) == (400, "Application_DialogException")
    assert error_of(empty)["message"].startswith("There is nothing to post.")
    assert posted.status_code == again.status_code == 204
    assert (document["status"], document["number"]) == ("Open", "PS-INV103001")
    assert document["remainingAmount"] == document["totalAmountIncludingTax"] == 23.8
    assert [i.number for i in state.posted_invoices(DE.id)] == ["PS-INV103001"]


async def test_a_closed_period_is_refused_with_bc_text(
    http: httpx.AsyncClient, state: BusinessCentralState
) -> None:
    closed_day, _ = closed_period(TODAY)
    await create_customer(http)
    invoice = await create_invoice(http, invoice_date=closed_day.isoformat())
    await add_line(http, invoice["id"], taxCode="STANDARD")

    response = await http.post(f"{company()}/salesInvoices({invoice['id']})/Microsoft.NAV.post")

    assert response.status_code == 400
    assert error_of(response)["code"] == "Application_DialogException"
    assert error_of(response)["message"].startswith(
        "Posting Date is not within your range of allowed posting dates."
    )
    assert state.posted_invoices(DE.id) == []
    assert state.first_open_day() == first_open_day(TODAY)


async def test_a_posted_invoice_cannot_change(http: httpx.AsyncClient) -> None:
    await create_customer(http)
    invoice = await create_invoice(http)
    await add_line(http, invoice["id"], taxCode="STANDARD")
    await http.post(f"{company()}/salesInvoices({invoice['id']})/Microsoft.NAV.post")
    url = f"{company()}/salesInvoices({invoice['id']})"

    patched = await http.patch(url, json={"dueDate": "2025-07-01"}, headers={"If-Match": "*"})
    line = await add_line(http, invoice["id"], sequence=20000, taxCode="STANDARD")

    assert patched.status_code == line.status_code == 400
    assert error_of(patched)["code"] == error_of(line)["code"] == "Application_DialogException"


async def test_a_draft_header_patch_honours_the_etag(http: httpx.AsyncClient) -> None:
    await create_customer(http)
    invoice = await create_invoice(http)
    url = f"{company()}/salesInvoices({invoice['id']})"

    stale = await http.patch(url, json={"invoiceDate": "2025-06-05"}, headers={"If-Match": "x"})
    moved = await http.patch(
        url, json={"invoiceDate": "2025-06-05"}, headers={"If-Match": invoice["@odata.etag"]}
    )

    assert stale.status_code == 412
    assert moved.json()["invoiceDate"] == "2025-06-05T00:00:00Z"


async def test_unknown_records_are_bc_404s(http: httpx.AsyncClient) -> None:
    missing = "00000000-0000-4000-8000-000000000000"

    customer = await http.get(f"{company()}/customers({missing})")
    invoice = await http.get(f"{company()}/salesInvoices({missing})")

    assert customer.status_code == invoice.status_code == 404
    assert error_of(customer)["code"] == error_of(invoice)["code"] == "Internal_RecordNotFound"


async def posted(http: httpx.AsyncClient, external: str, invoice_date: str) -> dict[str, Any]:
    invoice = await create_invoice(http, external, invoice_date=invoice_date)
    await add_line(http, invoice["id"], taxCode="STANDARD")
    await http.post(f"{company()}/salesInvoices({invoice['id']})/Microsoft.NAV.post")
    body: dict[str, Any] = (await http.get(f"{company()}/salesInvoices({invoice['id']})")).json()
    return body


async def test_invoices_filter_on_dates_and_status_and_page_with_top_and_skip(
    http: httpx.AsyncClient,
) -> None:
    await create_customer(http)
    june = [await posted(http, f"inv_{day}", f"2025-06-{day:02d}") for day in (2, 3, 4)]
    await posted(http, "inv_july", "2025-07-01")
    await create_invoice(http, "inv_draft", invoice_date="2025-06-05")
    url = f"{company()}/salesInvoices"
    june_filter = "invoiceDate ge 2025-06-01 and invoiceDate le 2025-06-30 and status ne 'Draft'"

    everything = await http.get(url, params={"$filter": june_filter})
    second_page = await http.get(url, params={"$filter": june_filter, "$top": "2", "$skip": "2"})
    bad_top = await http.get(url, params={"$top": "-1"})

    assert [i["id"] for i in everything.json()["value"]] == [i["id"] for i in june]
    assert [i["id"] for i in second_page.json()["value"]] == [june[2]["id"]]
    assert "@odata.nextLink" not in second_page.json()
    assert (bad_top.status_code, error_of(bad_top)["code"]) == (400, "BadRequest")


async def test_invoices_filter_on_numbers_joined_by_or_with_their_lines(
    http: httpx.AsyncClient,
) -> None:
    """BC ORs comparisons of one property: posted documents are read back many at once."""
    await create_customer(http)
    first = await posted(http, "inv_a", "2025-06-02")
    await posted(http, "inv_b", "2025-06-03")
    third = await posted(http, "inv_c", "2025-06-04")
    either = "externalDocumentNumber eq 'inv_c' or externalDocumentNumber eq 'inv_a'"
    across = "externalDocumentNumber eq 'inv_c' or number eq 'S-INV103001'"

    found = await http.get(
        f"{company()}/salesInvoices",
        params={"$filter": either, "$expand": "salesInvoiceLines"},
    )
    refused = await http.get(f"{company()}/salesInvoices", params={"$filter": across})

    assert found.status_code == 200, found.text
    invoices = found.json()["value"]
    assert [i["id"] for i in invoices] == [first["id"], third["id"]]
    assert [len(i["salesInvoiceLines"]) for i in invoices] == [1, 1]
    assert {i["status"] for i in invoices} == {"Open"}
    assert (refused.status_code, error_of(refused)["code"]) == (400, "BadRequest")


async def test_currencies_are_listed_with_their_rounding(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{company()}/currencies", params={"$filter": "code eq 'EUR'"})

    (euro,) = response.json()["value"]
    assert (euro["code"], euro["symbol"], euro["amountRoundingPrecision"]) == ("EUR", "€", 0.01)


async def test_a_credit_memo_may_name_its_invoice_by_number(http: httpx.AsyncClient) -> None:
    await create_customer(http)
    invoice = await posted(http, "inv_1", "2025-06-02")

    memo = await http.post(
        f"{company()}/salesCreditMemos",
        json={
            "externalDocumentNumber": "cm_1",
            "customerNumber": "C0001",
            "invoiceNumber": invoice["number"],
        },
    )
    unknown = await http.post(
        f"{company()}/salesCreditMemos",
        json={"customerNumber": "C0001", "invoiceNumber": "PS-INV1"},
    )

    assert memo.status_code == 201
    assert (memo.json()["invoiceId"], memo.json()["status"]) == (invoice["id"], "Draft")
    assert error_of(unknown)["code"] == "Internal_RecordNotFound"


async def test_journal_lines_need_a_known_gl_account_and_a_free_line_number(
    http: httpx.AsyncClient,
) -> None:
    journal = (await http.post(f"{company()}/journals", json={"code": "ADJ"})).json()
    lines = f"{company()}/journals({journal['id']})/journalLines"

    first = await http.post(lines, json={"accountNumber": "40100", "amount": 10})
    unknown = await http.post(lines, json={"accountNumber": "99999", "amount": 10})
    customer = await http.post(lines, json={"accountType": "Customer", "accountNumber": "C1"})
    taken = await http.post(lines, json={"lineNumber": 10000, "accountNumber": "40100"})
    duplicate_code = await http.post(f"{company()}/journals", json={"code": "ADJ"})

    assert (first.status_code, first.json()["lineNumber"]) == (201, 10000)
    assert error_of(unknown)["code"] == "Internal_InvalidTableRelation"
    assert error_of(customer)["code"] == "BadRequest"
    assert (
        error_of(taken)["code"]
        == error_of(duplicate_code)["code"]
        == ("Internal_EntityWithSameKeyExists")
    )


async def test_posting_a_journal_writes_ledger_entries_and_empties_it(
    http: httpx.AsyncClient, state: BusinessCentralState
) -> None:
    journal = (await http.post(f"{company()}/journals", json={"code": "ADJ"})).json()
    url = f"{company()}/journals({journal['id']})"
    for account, amount in (("60100", 12.5), ("21500", -12.5)):
        await http.post(
            f"{url}/journalLines",
            json={
                "accountNumber": account,
                "amount": amount,
                "documentNumber": "ADJ-1",
                "postingDate": "2025-06-10",
            },
        )

    empty = await http.post(f"{company()}/journals", json={"code": "EMPTY"})
    nothing = await http.post(f"{company()}/journals({empty.json()['id']})/Microsoft.NAV.post")
    posted_journal = await http.post(f"{url}/Microsoft.NAV.post")
    entries = await http.get(
        f"{company()}/generalLedgerEntries", params={"$filter": "documentNumber eq 'ADJ-1'"}
    )
    left = await http.get(f"{url}/journalLines")

    assert error_of(nothing)["message"].startswith("There is nothing to post.")
    assert posted_journal.status_code == 204
    assert [
        (e["id"], e["accountNumber"], e["debitAmount"], e["creditAmount"])
        for e in entries.json()["value"]
    ] == [(1, "60100", 12.5, 0), (2, "21500", 0, 12.5)]
    assert left.json()["value"] == []
    assert len(state.ledger(DE.id)) == 2


async def test_a_payment_without_an_invoice_is_kept_but_applies_nothing(
    http: httpx.AsyncClient,
) -> None:
    await create_customer(http)
    invoice = await posted(http, "inv_1", "2025-06-02")
    journal = await http.post(f"{company()}/customerPaymentJournals", json={"code": "CASH"})
    payments = f"{company()}/customerPaymentJournals({journal.json()['id']})/customerPayments"

    loose = await http.post(payments, json={"customerNumber": "C0001", "amount": 5})
    by_number = await http.post(
        payments,
        json={"customerNumber": "C0001", "amount": 5, "appliesToInvoiceNumber": invoice["number"]},
    )
    after = (await http.get(f"{company()}/salesInvoices({invoice['id']})")).json()

    assert loose.json()["appliesToInvoiceId"] == "00000000-0000-0000-0000-000000000000"
    assert by_number.json()["appliesToInvoiceId"] == invoice["id"]
    assert [loose.json()["lineNumber"], by_number.json()["lineNumber"]] == [10000, 20000]
    assert after["remainingAmount"] == 23.8 - 5
