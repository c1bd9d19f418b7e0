"""Reference data through `/ops/v1`: created, read and changed under `If-Match`, audited,
and in force for the workflows at once, on SQLite and PostgreSQL."""

from datetime import date
from typing import Any

import httpx
import pytest

from app.seed import demo_id
from core.errors import PROBLEM_BASE_URI
from tests.conftest import Gateway
from tests.support.invoices import US_COMPANY, invoice_body

US_ENTITY = demo_id("legal_entity", 1)
REFDATA = ("refdata:read", "refdata:write", "audit:read")


@pytest.fixture
async def ops(gateway: Gateway) -> httpx.AsyncClient:
    return await gateway.client_with(REFDATA, client_id="test-finance-ops")


def entity_body(**overrides: Any) -> dict[str, Any]:
    return {
        "code": "LG-UK",
        "name": "Ledgergate UK Ltd",
        "country": "GB",
        "functional_currency": "GBP",
        "closed_period_policy": "reject",
        "erp_company_id": "uk-company",
        **overrides,
    }


async def test_a_legal_entity_is_created_with_its_version_as_etag(
    ops: httpx.AsyncClient,
) -> None:
    created = await ops.post("/ops/v1/legal-entities", json=entity_body())
    assert created.status_code == 201, created.text
    entity = created.json()
    assert created.headers["ETag"] == '"1"'
    assert created.headers["Location"] == f"/ops/v1/legal-entities/{entity['id']}"
    assert entity["erp_connection"] == "default"
    assert (entity["functional_currency"], entity["periods"], entity["tax_codes"]) == (
        "GBP",
        [],
        [],
    )
    read = await ops.get(f"/ops/v1/legal-entities/{entity['id']}")
    assert read.headers["ETag"] == '"1"'
    codes = [e["code"] for e in (await ops.get("/ops/v1/legal-entities")).json()]
    assert codes == ["LG-DE", "LG-UK", "LG-US"]


async def test_duplicate_keys_and_unknown_connections_are_refused(
    ops: httpx.AsyncClient,
) -> None:
    duplicate = await ops.post("/ops/v1/legal-entities", json=entity_body(code="LG-US"))
    assert duplicate.status_code == 409
    assert duplicate.json()["type"] == PROBLEM_BASE_URI + "duplicate-reference-data"
    unknown = await ops.post("/ops/v1/legal-entities", json=entity_body(erp_connection="nowhere"))
    assert unknown.status_code == 422
    assert unknown.json()["type"] == PROBLEM_BASE_URI + "unknown-erp-connection"
    invalid = await ops.post("/ops/v1/legal-entities", json=entity_body(functional_currency="XX"))
    assert invalid.status_code == 422


async def test_a_change_needs_the_current_version(ops: httpx.AsyncClient) -> None:
    url = f"/ops/v1/legal-entities/{US_ENTITY}"
    missing = await ops.patch(url, json={"name": "Renamed"})
    assert missing.status_code == 428
    assert missing.json()["type"] == PROBLEM_BASE_URI + "precondition-required"
    stale = await ops.patch(url, json={"name": "Renamed"}, headers={"If-Match": '"7"'})
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 1
    changed = await ops.patch(
        url, json={"closed_period_policy": "roll_forward"}, headers={"If-Match": '"1"'}
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] == '"2"'
    assert changed.json()["closed_period_policy"] == "roll_forward"
    again = await ops.patch(url, json={"name": "Renamed"}, headers={"If-Match": '"1"'})
    assert again.status_code == 412


def untaxed(body: dict[str, Any]) -> dict[str, Any]:
    """`body` as billed by a billing engine that charged no tax on it."""
    for line in body["lines"]:
        line["tax_amount"] = 0
    return {**body, "tax_total": 0, "total": body["subtotal"]}


async def post_invoice(
    gateway: Gateway, day: date, key: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    invoice = await gateway.client.post("/v1/invoices", json=body or invoice_body(invoice_date=day))
    return await gateway.client.post(
        f"/v1/invoices/{invoice.json()['id']}/postings", json={}, headers={"Idempotency-Key": key}
    )


async def test_closing_and_reopening_a_period_governs_postings_at_once(
    gateway: Gateway, ops: httpx.AsyncClient
) -> None:
    url = f"/ops/v1/legal-entities/{US_ENTITY}"
    entity = (await ops.get(url)).json()
    today = date.today()
    period = next(p for p in entity["periods"] if p["starts_on"] <= str(today) <= p["ends_on"])
    assert period["status"] == "open"
    # A posting first: whatever the process keeps after it, the close governs the next one.
    before = await post_invoice(gateway, today, "k-0")
    assert before.status_code == 201, before.text
    closed = await ops.post(
        f"{url}/periods/{period['id']}/close",
        json={"reason": "month end"},
        headers={"If-Match": '"1"'},
    )
    assert closed.status_code == 200, closed.text
    assert closed.headers["ETag"] == '"2"'
    refused = await post_invoice(gateway, today, "k-1")
    assert refused.status_code == 422
    assert refused.json()["type"] == PROBLEM_BASE_URI + "closed-period"

    reopen = f"{url}/periods/{period['id']}/reopen"
    no_reason = await ops.post(reopen, json={}, headers={"If-Match": '"2"'})
    assert no_reason.status_code == 422
    reopened = await ops.post(
        reopen, json={"reason": "late supplier accrual"}, headers={"If-Match": '"2"'}
    )
    assert reopened.status_code == 200, reopened.text
    now = next(p for p in reopened.json()["periods"] if p["id"] == period["id"])
    assert (now["status"], now["status_reason"]) == ("open", "late supplier accrual")
    posted = await post_invoice(gateway, today, "k-2")
    assert posted.status_code == 201, posted.text
    twice = await ops.post(reopen, json={"reason": "again"}, headers={"If-Match": "*"})
    assert twice.status_code == 409
    assert twice.json()["type"] == PROBLEM_BASE_URI + "invalid-status-transition"


async def test_periods_are_added_without_overlap(ops: httpx.AsyncClient) -> None:
    created = (await ops.post("/ops/v1/legal-entities", json=entity_body())).json()
    url = f"/ops/v1/legal-entities/{created['id']}/periods"
    january = {"starts_on": "2027-01-01", "ends_on": "2027-01-31"}
    added = await ops.post(url, json=january, headers={"If-Match": '"1"'})
    assert added.status_code == 201, added.text
    assert [(p["starts_on"], p["status"]) for p in added.json()["periods"]] == [
        ("2027-01-01", "open")
    ]
    overlap = {"starts_on": "2027-01-15", "ends_on": "2027-02-14"}
    refused = await ops.post(url, json=overlap, headers={"If-Match": '"2"'})
    assert refused.status_code == 409
    assert refused.json()["type"] == PROBLEM_BASE_URI + "overlapping-accounting-period"
    backwards = {"starts_on": "2027-03-31", "ends_on": "2027-03-01"}
    assert (await ops.post(url, json=backwards, headers={"If-Match": '"2"'})).status_code == 422


async def test_tax_codes_map_to_erp_tax_groups(ops: httpx.AsyncClient) -> None:
    url = f"/ops/v1/legal-entities/{US_ENTITY}/tax-codes/STANDARD"
    mapped = await ops.put(url, json={"erp_tax_code": "US-STD"}, headers={"If-Match": '"1"'})
    assert mapped.status_code == 200, mapped.text
    remapped = await ops.put(url, json={"erp_tax_code": "US-STD2"}, headers={"If-Match": '"2"'})
    assert remapped.json()["tax_codes"] == [{"tax_code": "STANDARD", "erp_tax_code": "US-STD2"}]
    assert remapped.headers["ETag"] == '"3"'


async def test_partners_are_created_and_terminated_by_their_status_rules(
    ops: httpx.AsyncClient,
) -> None:
    created = await ops.post(
        "/ops/v1/partners", json={"name": "Contoso Channel", "commission_plan": "reseller-20"}
    )
    assert created.status_code == 201, created.text
    url = created.headers["Location"]
    assert created.json()["status"] == "active"
    ended = await ops.patch(url, json={"status": "terminated"}, headers={"If-Match": '"1"'})
    assert ended.status_code == 200, ended.text
    back = await ops.patch(url, json={"status": "active"}, headers={"If-Match": '"2"'})
    assert back.status_code == 409
    assert back.json()["type"] == PROBLEM_BASE_URI + "invalid-status-transition"
    names = [p["name"] for p in (await ops.get("/ops/v1/partners")).json()]
    assert "Contoso Channel" in names


async def test_a_rate_card_version_is_added_in_the_crm(ops: httpx.AsyncClient) -> None:
    url = f"/ops/v1/partners/{demo_id('partner', 1)}"
    before = (await ops.get(f"{url}/rate-card")).json()
    version = {
        "effective_from": date(2031, 1, 1).isoformat(),
        "rates": [{"product_tier": "pro", "rate_bps": 2500}],
    }
    keyless = await ops.post(f"{url}/rate-card-versions", json=version)
    assert keyless.status_code == 400
    added = await ops.post(
        f"{url}/rate-card-versions", json=version, headers={"Idempotency-Key": "rc-1"}
    )
    assert added.status_code == 201, added.text
    versions = added.json()["versions"]
    assert len(versions) == len(before["versions"]) + 1
    assert versions[-1]["rates"] == [{"product_tier": "pro", "rate_bps": 2500}]
    assert (await ops.get(f"{url}/rate-card")).json() == added.json()


async def test_products_and_prices_map_to_erp_items_and_billing_prices(
    ops: httpx.AsyncClient,
) -> None:
    product = await ops.post(
        "/ops/v1/products",
        json={"name": "Ledgergate Team", "tier": "team", "tax_code": "STANDARD", "erp_item": "I-9"},
    )
    assert product.status_code == 201, product.text
    assert product.json()["refs"]["erp"] == "I-9"
    prices_url = f"{product.headers['Location']}/prices"
    price = await ops.post(
        prices_url,
        json={"currency": "USD", "unit_amount": 2900, "interval": "month", "billing_price": "p_1"},
    )
    assert price.status_code == 201, price.text
    assert (price.json()["unit_amount"], price.json()["refs"]["billing"]) == (2900, "p_1")
    retired = await ops.patch(
        price.headers["Location"], json={"active": False}, headers={"If-Match": '"1"'}
    )
    assert retired.json()["active"] is False
    assert [p["active"] for p in (await ops.get(prices_url)).json()] == [False]
    amount = await ops.patch(
        price.headers["Location"], json={"unit_amount": 1}, headers={"If-Match": '"2"'}
    )
    assert amount.status_code == 422  # a new amount is a new price
    renamed = await ops.patch(
        product.headers["Location"], json={"active": False}, headers={"If-Match": '"1"'}
    )
    assert renamed.json()["active"] is False


async def test_reference_data_needs_its_own_scopes_and_is_audited(
    gateway: Gateway, ops: httpx.AsyncClient
) -> None:
    refused = await gateway.client.post(
        "/ops/v1/partners", json={"name": "X", "commission_plan": "P"}
    )
    assert refused.status_code == 403
    reader = await gateway.client_with({"refdata:read"})
    assert (await reader.get("/ops/v1/products")).status_code == 200
    assert (await reader.post("/ops/v1/products", json={})).status_code == 403
    await ops.post("/ops/v1/legal-entities", json=entity_body())
    trail = (
        await ops.get("/ops/v1/audit", params={"action": "POST /ops/v1/legal-entities"})
    ).json()
    assert [(e["client_id"], e["outcome"]) for e in trail["items"]] == [
        ("test-finance-ops", "succeeded")
    ]


async def test_a_tax_code_mapping_decides_the_erp_tax_group_of_a_posting(
    gateway: Gateway, ops: httpx.AsyncClient
) -> None:
    url = f"/ops/v1/legal-entities/{US_ENTITY}/tax-codes/STANDARD"
    mapped = await ops.put(url, json={"erp_tax_code": "EXEMPT"}, headers={"If-Match": '"1"'})
    assert mapped.status_code == 200, mapped.text
    # the ERP taxes by its group, so the invoice carries the tax EXEMPT means: none
    posted = await post_invoice(gateway, date.today(), "k-1", untaxed(invoice_body()))
    assert posted.status_code == 201, posted.text
    assert gateway.backends.erp_sandbox is not None
    book = gateway.backends.erp_sandbox.books[US_COMPANY]
    (document,) = (
        d
        for d in book.invoices.values()
        if d.external_document_number == posted.json()["invoice_id"]
    )
    assert {line.tax_code for line in document.lines} == {"EXEMPT"}

    await ops.put(url, json={"erp_tax_code": "NOWHERE"}, headers={"If-Match": '"2"'})
    refused = await post_invoice(gateway, date.today(), "k-2")
    assert refused.status_code == 422
    assert refused.json()["type"] == PROBLEM_BASE_URI + "unknown-tax-code"


async def test_the_api_takes_only_json_types_not_text_or_numbers(ops: httpx.AsyncClient) -> None:
    product = (await ops.get("/ops/v1/products")).json()[0]
    text_flag = await ops.patch(
        f"/ops/v1/products/{product['id']}", json={"active": "false"}, headers={"If-Match": "*"}
    )
    assert text_flag.status_code == 422
    text_amount = await ops.post(
        f"/ops/v1/products/{product['id']}/prices",
        json={"currency": "USD", "unit_amount": "2900", "interval": "month"},
    )
    assert text_amount.status_code == 422
    created = (await ops.post("/ops/v1/legal-entities", json=entity_body())).json()
    number_day = await ops.post(
        f"/ops/v1/legal-entities/{created['id']}/periods",
        json={"starts_on": 0, "ends_on": "2027-01-31"},
        headers={"If-Match": "*"},
    )
    assert number_day.status_code == 422
