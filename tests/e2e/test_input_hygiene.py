"""Input hygiene at the edge: what the databases cannot store is refused alike on both.

PostgreSQL stores no NUL and no invalid Unicode (SQLite does), so each case is a
problem on both databases, never a 500 on one and a success on the other.
"""

import json
from collections.abc import Callable
from datetime import date

import httpx
import pytest

from app.seed import demo_id
from tests.conftest import Gateway
from tests.e2e.test_edge_errors import assert_problem
from tests.e2e.test_versioning import v2_body
from tests.support.invoices import invoice_body

US_ENTITY = demo_id("legal_entity", 1)


@pytest.fixture
async def ops(gateway: Gateway) -> httpx.AsyncClient:
    return await gateway.client_with(["audit:read", "ops:read"], client_id="hygiene-ops")


@pytest.mark.parametrize(
    "query",
    [
        "/ops/v1/audit?client_id=a%00b",
        "/ops/v1/audit?action=%ff%fe",
        "/ops/v1/runs?workflow=a%00b",
        "/ops/v1/exceptions?workflow=a%00b",
    ],
)
async def test_a_filter_with_a_nul_or_invalid_utf8_is_a_422(
    ops: httpx.AsyncClient, query: str
) -> None:
    assert_problem(await ops.get(query), 422, "invalid-text")


@pytest.mark.parametrize("description", ["a\x00b", "\ud800"])
async def test_a_json_string_that_cannot_be_stored_is_a_422(
    gateway: Gateway, description: str
) -> None:
    body = invoice_body()
    body["lines"][0]["description"] = description
    response = await gateway.client.post(
        "/v1/invoices", content=json.dumps(body), headers={"content-type": "application/json"}
    )
    assert_problem(response, 422, "invalid-text")


async def test_a_json_body_that_is_not_utf8_is_a_400(gateway: Gateway) -> None:
    response = await gateway.client.post(
        "/v1/customers", content=b'{"name": "\xff"}', headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, "malformed-json")


async def test_a_nul_in_the_token_form_is_a_400(gateway: Gateway) -> None:
    response = await gateway.anonymous.post(
        "/oauth/token",
        content=b"grant_type=client_credentials&client_id=a%00b&client_secret=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_problem(response, 400, "invalid-text")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
async def test_nan_and_infinity_are_not_json(gateway: Gateway, constant: str) -> None:
    body = json.dumps(invoice_body()).replace('"quantity": 1', f'"quantity": {constant}', 1)
    assert constant in body
    response = await gateway.client.post(
        "/v1/invoices", content=body, headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, "malformed-json")


async def test_a_deeply_nested_body_is_a_documented_400(gateway: Gateway) -> None:
    response = await gateway.client.post(
        "/v1/customers",
        content=b"[" * 100_000 + b"]" * 100_000,  # past the parser's recursion limit
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 400, "json-too-deep")


@pytest.mark.parametrize("path", ["/ops/v1/summary", "/ops/v1/reconciliation"])
async def test_the_last_month_of_year_9999_is_no_500(ops: httpx.AsyncClient, path: str) -> None:
    response = await ops.get(path, params={"period": "9999-12", "legal_entity": US_ENTITY})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", ["/ops/v1/summary", "/ops/v1/reconciliation"])
async def test_year_zero_is_no_period(ops: httpx.AsyncClient, path: str) -> None:
    response = await ops.get(path, params={"period": "0000-01", "legal_entity": US_ENTITY})
    assert_problem(response, 422, "validation-error")


async def test_a_whitespace_only_note_is_refused(gateway: Gateway) -> None:
    response = await gateway.client.post(
        f"/v1/subscriptions/{demo_id('subscription', 1)}/cancel",
        json={"note": "   "},
        headers={"Idempotency-Key": "hygiene-cancel"},
    )
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"][0]["pointer"] == "#/note"


def _payment_body() -> dict[str, object]:
    return {"amount": 100, "currency": "USD", "paid_on": date.today().isoformat()}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/invoices", invoice_body, "invoice_date"),
        ("/v1/invoices", invoice_body, "due_date"),
        ("/v2/invoices", lambda: v2_body(invoice_body()), "invoice_date"),
        ("/v2/invoices", lambda: v2_body(invoice_body()), "due_date"),
        (f"/v1/invoices/{demo_id('invoice', 1)}/payments", _payment_body, "paid_on"),
        (f"/v1/invoices/{demo_id('invoice', 1)}/postings", dict, "posting_date"),
        (f"/v2/invoices/{demo_id('invoice', 1)}/postings", dict, "posting_date"),
    ],
)
@pytest.mark.parametrize("number", [1_790_000_000, "1790000000", 0])
async def test_a_body_date_given_as_a_number_is_a_422_not_a_date(
    gateway: Gateway,
    path: str,
    body: Callable[[], dict[str, object]],
    field: str,
    number: int | str,
) -> None:
    """JSON Schema says `format: date`; lax parsing would read a number as a Unix timestamp."""
    sent = {**body(), field: number}
    response = await gateway.client.post(
        path, json=sent, headers={"Idempotency-Key": f"number-date-{field}-{number}"}
    )
    problem = assert_problem(response, 422, "validation-error")
    assert [error["pointer"] for error in problem["errors"]] == [f"#/{field}"]


@pytest.mark.parametrize("number", [1_790_000_000, "1790000000", 0])
@pytest.mark.parametrize("field", ["starts_on", "ends_on"])
async def test_a_period_date_given_as_a_number_is_a_422_not_a_date(
    gateway: Gateway, field: str, number: int | str
) -> None:
    refdata = await gateway.client_with(["refdata:read", "refdata:write"], client_id="hygiene-rd")
    period = {"starts_on": "2031-01-01", "ends_on": "2031-01-31", field: number}
    response = await refdata.post(
        f"/ops/v1/legal-entities/{US_ENTITY}/periods", json=period, headers={"If-Match": '"1"'}
    )
    problem = assert_problem(response, 422, "validation-error")
    assert [error["pointer"] for error in problem["errors"]] == [f"#/{field}"]
