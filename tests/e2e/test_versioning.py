"""`/v2/invoices` beside `/v1`, the deprecation headers of the v1 operations, `/versions`.

The HTTP tests run on SQLite and PostgreSQL; the spec and registry tests need no database.
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from app.governance.versioning import (
    SUCCESSOR_EXTENSION,
    V1_DEPRECATION,
    V1_SUNSET,
    ApiVersion,
    Lifecycle,
    VersionRegistry,
)
from app.main import create_app
from core.errors import PROBLEM_BASE_URI
from core.settings import VersioningSettings
from tests.conftest import Gateway, GatewayFactory, settings_for
from tests.support.faults import switchable_backends
from tests.support.invoices import ACME, invoice_body

REPLACED = {
    ("get", "/v1/invoices"): "/v2/invoices",
    ("post", "/v1/invoices"): "/v2/invoices",
    ("get", "/v1/invoices/{invoice_id}"): "/v2/invoices/{invoice_id}",
    ("post", "/v1/invoices/{invoice_id}/postings"): "/v2/invoices/{invoice_id}/postings",
    ("post", "/v1/invoices/{invoice_id}/void"): "/v2/invoices/{invoice_id}/void",
}
UNKNOWN_INVOICE = "inv_00000000000000000000000000"


def v2_body(v1: dict[str, Any]) -> dict[str, Any]:
    """The v2 request for the same invoice as the v1 body `v1`."""

    def money(amount: int) -> dict[str, Any]:
        return {"amount": amount, "currency": v1["currency"]}

    return {
        "customer_id": v1["customer_id"],
        "invoice_date": v1["invoice_date"],
        "due_date": v1["due_date"],
        "lines": [
            {
                "description": line["description"],
                "quantity": line["quantity"],
                "unit_price": money(line["unit_amount"]),
                "amount": money(line["amount"]),
                "tax_code": line["tax_code"],
                "tax": money(line["tax_amount"]),
            }
            for line in v1["lines"]
        ],
        "totals": {
            "subtotal": money(v1["subtotal"]),
            "tax": money(v1["tax_total"]),
            "total": money(v1["total"]),
        },
    }


def pointers(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return [error["pointer"] for error in response.json().get("errors", [])]


async def register_v1(gateway: Gateway) -> str:
    response = await gateway.client.post("/v1/invoices", json=invoice_body())
    assert response.status_code == 201, response.text
    invoice_id: str = response.json()["id"]
    return invoice_id


def assert_deprecated(response: httpx.Response, successor: str) -> None:
    assert response.headers["deprecation"] == f"@{int(V1_DEPRECATION.timestamp())}"
    assert parsedate_to_datetime(response.headers["sunset"]) == V1_SUNSET
    assert response.headers["sunset"].endswith(" GMT")
    assert response.links["successor-version"]["url"] == successor
    assert response.links["deprecation"]["url"] == "/versions"


def assert_not_deprecated(response: httpx.Response) -> None:
    assert "deprecation" not in response.headers
    assert "sunset" not in response.headers
    assert "link" not in response.headers


# --- /v2/invoices ---------------------------------------------------------------------------


async def test_v2_round_trip_with_money_objects(gateway: Gateway) -> None:
    v1 = invoice_body()
    created = await gateway.client.post("/v2/invoices", json=v2_body(v1))
    assert created.status_code == 201, created.text
    invoice = created.json()
    invoice_id = invoice["id"]
    assert created.headers["location"] == f"/v2/invoices/{invoice_id}"
    usd = {"currency": "USD"}
    assert invoice["totals"] == {
        "subtotal": {"amount": v1["subtotal"], **usd},
        "tax": {"amount": v1["tax_total"], **usd},
        "total": {"amount": v1["total"], **usd},
    }
    first = invoice["lines"][0]
    assert first["unit_price"] == {"amount": 4900, **usd}
    assert first["amount"] == {"amount": 3 * 4900, **usd}
    assert first["tax"] == {"amount": v1["lines"][0]["tax_amount"], **usd}
    assert "currency" not in invoice
    assert "unit_amount" not in first
    assert invoice["status"] == "open"
    assert invoice["posting"] == {"posting_date": None, "posted_at": None, "erp_document": None}
    assert_not_deprecated(created)

    read = await gateway.client.get(f"/v2/invoices/{invoice_id}")
    assert read.status_code == 200
    assert read.json() == invoice
    assert_not_deprecated(read)
    # The same canonical invoice, as v1 shows it.
    flat = (await gateway.client.get(f"/v1/invoices/{invoice_id}")).json()
    assert (flat["currency"], flat["total"]) == ("USD", v1["total"])

    posted = await gateway.client.post(
        f"/v2/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": "v2-1"}
    )
    assert posted.status_code == 201, posted.text
    assert posted.headers["location"] == f"/v2/invoices/{invoice_id}"
    result = posted.json()
    assert result["state"] == "posted"
    assert result["already_posted"] is False
    assert result["run"]["url"] == f"/v1/runs/{result['run']['id']}"
    document = result["posting"]["erp_document"]
    assert document["id"]
    assert document["number"]
    assert_not_deprecated(posted)

    replayed = await gateway.client.post(
        f"/v2/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": "v2-1"}
    )
    assert replayed.status_code == 201
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == result

    after = (await gateway.client.get(f"/v2/invoices/{invoice_id}")).json()
    assert after["status"] == "posted"
    assert after["posting"]["erp_document"] == document
    assert after["posting"]["posted_at"]
    assert after["last_run"]["id"] == result["run"]["id"]


async def test_v2_posts_an_invoice_registered_through_v1(gateway: Gateway) -> None:
    invoice_id = await register_v1(gateway)
    v1 = await gateway.client.post(
        f"/v1/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": "v1-1"}
    )
    assert v1.status_code == 201, v1.text
    v2 = await gateway.client.post(
        f"/v2/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": "v2-1"}
    )
    assert v2.status_code == 200, v2.text
    assert v2.json()["already_posted"] is True
    assert v2.json()["posting"]["erp_document"]["id"] == v1.json()["posting"]["erp_document_id"]


async def test_v2_queued_posting_nests_its_run(make_gateway: GatewayFactory) -> None:
    switches, wrap = switchable_backends()

    gateway = await make_gateway(wrap=wrap)
    invoice_id = await register_v1(gateway)
    switches["erp"].down = True
    queued = await gateway.client.post(
        f"/v2/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": "v2-q"}
    )
    assert queued.status_code == 202, queued.text
    result = queued.json()
    assert result["state"] == "pending_retry"
    assert result["run"]["retry_at"]
    assert queued.headers["location"] == result["run"]["url"]
    assert result["posting"]["erp_document"] is None
    assert result["posting"]["posting_date"] == invoice_body()["invoice_date"]


async def test_v2_refuses_amounts_in_more_than_one_currency(gateway: Gateway) -> None:
    body = v2_body(invoice_body())
    body["lines"][1]["tax"]["currency"] = "EUR"
    response = await gateway.client.post("/v2/invoices", json=body)
    assert response.json()["type"] == PROBLEM_BASE_URI + "validation-error"
    assert pointers(response) == ["#/lines/1/tax/currency"]
    assert response.json()["errors"][0]["code"] == "currency_disagreement"
    assert "EUR" in response.json()["errors"][0]["detail"]


async def test_v2_refuses_floats_and_missing_currencies(gateway: Gateway) -> None:
    body = v2_body(invoice_body())
    body["lines"][0]["unit_price"]["amount"] = 49.0
    del body["totals"]["tax"]["currency"]
    response = await gateway.client.post("/v2/invoices", json=body)
    assert sorted(pointers(response)) == [
        "#/lines/0/unit_price/amount",
        "#/totals/tax/currency",
    ]


async def test_v2_business_rules_point_at_v2_fields(gateway: Gateway) -> None:
    body = v2_body(invoice_body())
    body["lines"][0]["amount"]["amount"] += 1
    response = await gateway.client.post("/v2/invoices", json=body)
    assert pointers(response) == ["#/lines/0"]

    body = v2_body(invoice_body())
    body["lines"][0]["tax"]["amount"] = -1
    response = await gateway.client.post("/v2/invoices", json=body)
    assert "#/lines/0/tax/amount" in pointers(response)

    body = v2_body(invoice_body())
    body["totals"]["total"]["amount"] += 1
    response = await gateway.client.post("/v2/invoices", json=body)
    assert pointers(response) == ["#/"]
    assert "total" in response.json()["errors"][0]["detail"]


async def test_v2_customer_currency_mismatch_points_at_the_invoice_currency(
    gateway: Gateway,
) -> None:
    body = v2_body(invoice_body(ACME, currency="EUR"))
    response = await gateway.client.post("/v2/invoices", json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == PROBLEM_BASE_URI + "currency-mismatch"
    assert problem["pointer"] == "#/totals/total/currency"


async def test_v2_uses_the_v1_scopes(gateway: Gateway) -> None:
    reader = await gateway.client_with(["invoices:read"])
    async with reader:
        refused = await reader.post("/v2/invoices", json=v2_body(invoice_body()))
        assert refused.status_code == 403
        assert refused.json()["missing_scopes"] == ["invoices:write"]
        posting = await reader.post(
            f"/v2/invoices/{UNKNOWN_INVOICE}/postings", json={}, headers={"Idempotency-Key": "k"}
        )
        assert posting.json()["missing_scopes"] == ["invoices:post"]
        missing = await reader.get(f"/v2/invoices/{UNKNOWN_INVOICE}")
        assert missing.status_code == 404
    assert (await gateway.anonymous.get(f"/v2/invoices/{UNKNOWN_INVOICE}")).status_code == 401


# --- deprecation of the v1 operations -------------------------------------------------------


async def test_every_replaced_v1_operation_announces_its_successor(gateway: Gateway) -> None:
    created = await gateway.client.post("/v1/invoices", json=invoice_body())
    assert created.status_code == 201
    invoice_id = created.json()["id"]
    assert_deprecated(created, "/v2/invoices")

    listed = await gateway.client.get("/v1/invoices", params={"status": "open"})
    assert listed.status_code == 200, listed.text
    assert_deprecated(listed, "/v2/invoices")

    read = await gateway.client.get(f"/v1/invoices/{invoice_id}")
    assert read.status_code == 200
    assert_deprecated(read, f"/v2/invoices/{invoice_id}")

    url, key = f"/v1/invoices/{invoice_id}/postings", {"Idempotency-Key": "deprecated-1"}
    posted = await gateway.client.post(url, json={}, headers=key)
    assert posted.status_code == 201, posted.text
    assert_deprecated(posted, f"/v2/invoices/{invoice_id}/postings")
    replayed = await gateway.client.post(url, json={}, headers=key)
    assert replayed.headers["idempotent-replayed"] == "true"
    assert_deprecated(replayed, f"/v2/invoices/{invoice_id}/postings")

    other = await register_v1(gateway)
    void = {"Idempotency-Key": "deprecated-void"}
    voided = await gateway.client.post(
        f"/v1/invoices/{other}/void", json={"reason": "Registered twice"}, headers=void
    )
    assert voided.status_code == 200, voided.text
    assert_deprecated(voided, f"/v2/invoices/{other}/void")


async def test_deprecation_headers_ride_on_problems_too(gateway: Gateway) -> None:
    missing = await gateway.client.get(f"/v1/invoices/{UNKNOWN_INVOICE}")
    assert missing.status_code == 404
    assert_deprecated(missing, f"/v2/invoices/{UNKNOWN_INVOICE}")

    unposted = await gateway.client.post(
        f"/v1/invoices/{UNKNOWN_INVOICE}/postings", json={}, headers={"Idempotency-Key": "k-404"}
    )
    assert unposted.status_code == 404
    assert_deprecated(unposted, f"/v2/invoices/{UNKNOWN_INVOICE}/postings")

    unvoided = await gateway.client.post(
        f"/v1/invoices/{UNKNOWN_INVOICE}/void",
        json={"reason": "x"},
        headers={"Idempotency-Key": "v"},
    )
    assert unvoided.status_code == 404
    assert_deprecated(unvoided, f"/v2/invoices/{UNKNOWN_INVOICE}/void")

    no_key = await gateway.client.post(f"/v1/invoices/{UNKNOWN_INVOICE}/postings", json={})
    assert no_key.status_code == 400
    assert_deprecated(no_key, f"/v2/invoices/{UNKNOWN_INVOICE}/postings")

    invalid = await gateway.client.post("/v1/invoices", json={"currency": "USD"})
    assert invalid.status_code == 422
    assert_deprecated(invalid, "/v2/invoices")

    not_json = await gateway.client.post(
        "/v1/invoices", content=b"total=1", headers={"content-type": "text/plain"}
    )
    assert not_json.status_code == 415
    assert_deprecated(not_json, "/v2/invoices")

    anonymous = await gateway.anonymous.get("/v1/invoices/inv x")
    assert anonymous.status_code == 401
    assert_deprecated(anonymous, "/v2/invoices/inv%20x")


async def test_operations_v2_does_not_replace_carry_no_deprecation(gateway: Gateway) -> None:
    customers = await gateway.client.get(f"/v1/customers/{ACME}")
    assert customers.status_code == 200
    assert_not_deprecated(customers)
    assert_not_deprecated(await gateway.anonymous.get("/healthz"))
    wrong_method = await gateway.client.delete(f"/v1/invoices/{UNKNOWN_INVOICE}")
    assert wrong_method.status_code == 405
    assert_not_deprecated(wrong_method)


async def test_the_lifecycle_dates_are_configurable(make_gateway: GatewayFactory) -> None:
    sunset = datetime(2028, 1, 31, 12, tzinfo=UTC)
    gateway = await make_gateway(versioning={"v1_sunset": sunset.isoformat()})
    response = await gateway.client.get(f"/v1/invoices/{UNKNOWN_INVOICE}")
    assert response.headers["sunset"] == "Mon, 31 Jan 2028 12:00:00 GMT"
    assert response.headers["deprecation"] == f"@{int(V1_DEPRECATION.timestamp())}"
    v1 = (await gateway.anonymous.get("/versions")).json()["versions"][0]
    assert v1["sunset"] == "2028-01-31T12:00:00Z"


# --- the served OpenAPI document and /versions (no database) --------------------------------


@pytest.fixture(scope="module")
async def served() -> AsyncIterator[httpx.AsyncClient]:
    """The gateway without its lifespan: enough for the spec and `/versions`."""
    app = create_app(settings_for("sqlite+aiosqlite:///:memory:"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
        yield client


async def test_versions_and_a_405_build_no_openapi_document() -> None:
    """The document is 16 MiB a worker would keep; neither answer needs it."""
    app = create_app(settings_for("sqlite+aiosqlite:///:memory:"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
        versions = await client.get("/versions")
        refused = await client.head("/versions")  # a read: no audit row, no lifespan needed
    assert (versions.status_code, refused.status_code) == (200, 405)
    assert refused.headers["allow"] == "GET"
    assert app.openapi_schema is None


async def test_exactly_the_replaced_operations_are_deprecated(served: httpx.AsyncClient) -> None:
    spec = (await served.get("/openapi.json")).json()
    deprecated = {
        (method, path): operation.get(SUCCESSOR_EXTENSION)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if operation.get("deprecated")
    }
    assert deprecated == REPLACED
    for (method, _), successor in REPLACED.items():
        assert method in spec["paths"][successor], f"{successor} is not served"


async def test_v2_operations_are_documented(served: httpx.AsyncClient) -> None:
    spec = (await served.get("/openapi.json")).json()
    operations = {
        (method, path): operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if path.startswith("/v2/")
    }
    assert {op["operationId"] for op in operations.values()} == {
        "invoices-v2-list",
        "invoices-v2-create",
        "invoices-v2-get",
        "invoices-v2-post",
        "invoices-v2-void",
    }
    for (method, path), operation in operations.items():
        v1 = spec["paths"][path.replace("/v2/", "/v1/", 1)][method]
        assert operation["security"] == v1["security"]
        assert operation["summary"]
        assert operation["description"]
        assert {"401", "403", "422"} <= operation["responses"].keys()
        assert not operation.get("deprecated")
    money = spec["components"]["schemas"]["Money"]
    assert money["properties"]["amount"]["type"] == "integer"
    line = spec["components"]["schemas"]["InvoiceLineCreateV2"]["properties"]
    assert {line[name]["$ref"] for name in ("unit_price", "amount", "tax")} == {
        "#/components/schemas/Money"
    }


async def test_versions_lists_the_lifecycle_without_authentication(
    served: httpx.AsyncClient,
) -> None:
    response = await served.get("/versions")
    assert response.status_code == 200
    v1, v2 = response.json()["versions"]
    assert v1["version"] == "v1"
    assert v1["status"] == "deprecated"
    assert v1["base_path"] == "/v1"
    assert datetime.fromisoformat(v1["deprecation"]) == V1_DEPRECATION
    assert datetime.fromisoformat(v1["sunset"]) == V1_SUNSET
    assert v1["successor"] == "v2"
    listed = {
        (op["method"].lower(), op["path"]): op["successor"] for op in v1["deprecated_operations"]
    }
    assert listed == REPLACED
    assert v2 == {
        "version": "v2",
        "status": "current",
        "base_path": "/v2",
        "deprecation": None,
        "sunset": None,
        "successor": None,
        "deprecated_operations": [],
    }
    spec = (await served.get("/openapi.json")).json()
    operation = spec["paths"]["/versions"]["get"]
    assert operation["operationId"] == "versions-list"
    assert operation["security"] == []  # public, and says so


def test_the_registry_refuses_an_inconsistent_lifecycle() -> None:
    with pytest.raises(ValueError, match="sunset must come after"):
        VersionRegistry.from_settings(
            VersioningSettings(v1_sunset=datetime(2026, 1, 1, tzinfo=UTC))
        )
    with pytest.raises(ValueError, match="both dates"):
        ApiVersion("v1", Lifecycle.DEPRECATED, deprecation=V1_DEPRECATION, successor="v2")
    with pytest.raises(ValueError, match="names its successor"):
        ApiVersion("v1", Lifecycle.DEPRECATED, deprecation=V1_DEPRECATION, sunset=V1_SUNSET)
    with pytest.raises(ValueError, match="unknown successor"):
        VersionRegistry(
            [ApiVersion("v1", Lifecycle.DEPRECATED, V1_DEPRECATION, V1_SUNSET, successor="v3")]
        )
