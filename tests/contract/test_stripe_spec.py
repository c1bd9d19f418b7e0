"""What the Stripe adapter sends, and what the sandbox answers, against Stripe's spec3.json."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from system_apis.billing.adapters.stripe import StripeAdapter
from system_apis.billing.mapping import encode_form
from system_apis.billing.schemas import BillingCustomerCreate
from system_apis.errors import BackendAuthError, BackendBusinessError, BackendNotFound
from system_apis.sandboxes.stripe import StripeState, create_app
from tests.support.recording import RecordingTransport
from tests.support.stripe_sandbox import (
    create_customer,
    create_invoice,
    sandbox_http,
    stripe_client,
)
from tests.support.stripe_spec import SPEC_DIR, StripeSpec, load_stripe_spec

ACME = BillingCustomerCreate(
    reference="cus_01acme", name="Acme Ltd", email="ap@acme.test", currency="USD"
)


@pytest.fixture(scope="module")
def spec() -> StripeSpec:
    return load_stripe_spec()


@pytest.fixture
def recording() -> RecordingTransport:
    return RecordingTransport(httpx.ASGITransport(app=create_app(StripeState())))


@pytest.fixture
async def adapter(recording: RecordingTransport) -> AsyncIterator[StripeAdapter]:
    client = stripe_client(recording)
    yield StripeAdapter(client)
    await client.aclose()


@pytest.fixture
async def http(recording: RecordingTransport) -> AsyncIterator[httpx.AsyncClient]:
    async with sandbox_http(recording) as client:
        yield client


def template_of(spec: StripeSpec, request: httpx.Request) -> str:
    operation = spec.operation(request.method, request.url.path)
    assert operation is not None
    return operation.template


async def run_scenario(adapter: StripeAdapter, http: httpx.AsyncClient) -> None:
    """Every port method, their error paths, and the seeding calls the tests rely on."""
    customer = await adapter.create_customer(ACME, idempotency_key="idem-1")
    await adapter.create_customer(ACME, idempotency_key="idem-1")
    with pytest.raises(BackendBusinessError):
        await adapter.create_customer(
            ACME.model_copy(update={"name": "B"}), idempotency_key="idem-1"
        )
    await adapter.get_customer(customer.id)
    with pytest.raises(BackendNotFound):
        await adapter.get_customer("cus_missing")

    other = await create_customer(http, email="b@acme.test", preferred_locales=["de"])
    invoices = [
        await create_invoice(
            http, customer.id, amounts=(100, 200), metadata={"ledgergate_id": "inv_1"}
        ),
        await create_invoice(http, customer.id, finalize=True),
        await create_invoice(http, customer.id, pay=True),
        await create_invoice(http, other["id"], currency="eur", pay=True),
    ]
    await http.post(
        "/v1/invoiceitems",
        data=encode_form({"customer": other["id"], "unit_amount": 5, "quantity": 2}),
    )
    await http.get("/v1/customers", params={"email": "b@acme.test", "limit": 1})
    # Optional in the spec, required by Stripe: 400 parameter_missing.
    await http.post("/v1/invoices", data=encode_form({"description": "no customer"}))

    await adapter.get_invoice(invoices[0]["id"])
    with pytest.raises(BackendNotFound):
        await adapter.get_invoice("in_missing")
    page = await adapter.list_invoices(customer_id=customer.id, limit=2)
    await adapter.list_invoices(customer_id=customer.id, limit=2, cursor=page.next_cursor)
    await adapter.list_invoices()


async def test_every_request_and_response_matches_the_spec(
    spec: StripeSpec, adapter: StripeAdapter, http: httpx.AsyncClient, recording: RecordingTransport
) -> None:
    await run_scenario(adapter, http)

    problems = [
        problem for exchange in recording.exchanges for problem in spec.exchange_errors(exchange)
    ]
    assert problems == []
    operations = {(e.request.method, template_of(spec, e.request)) for e in recording.exchanges}
    assert operations == {
        ("POST", "/v1/customers"),
        ("GET", "/v1/customers"),
        ("GET", "/v1/customers/{customer}"),
        ("POST", "/v1/invoiceitems"),
        ("POST", "/v1/invoices"),
        ("GET", "/v1/invoices"),
        ("GET", "/v1/invoices/{invoice}"),
        ("POST", "/v1/invoices/{invoice}/finalize"),
        ("POST", "/v1/invoices/{invoice}/pay"),
    }
    statuses = {e.response.status_code for e in recording.exchanges}
    assert statuses == {200, 400, 404}


async def test_auth_errors_match_the_error_schema(
    spec: StripeSpec, recording: RecordingTransport
) -> None:
    client = stripe_client(recording, api_key="sk_live_nope")
    try:
        with pytest.raises(BackendAuthError):
            await StripeAdapter(client).get_invoice("in_1")
    finally:
        await client.aclose()

    [exchange] = recording.exchanges
    assert exchange.response.status_code == 401
    assert spec.response_errors("GET", "/v1/invoices/in_1", 401, exchange.response_body) == []


def test_stripe_fixtures_are_valid(spec: StripeSpec) -> None:
    """The checker's reading of the spec accepts Stripe's own example objects."""
    fixtures = json.loads((SPEC_DIR / "fixtures3.json").read_text())["resources"]
    for name in ("customer", "invoice", "invoiceitem"):
        schema = {"$ref": f"urn:stripe:spec3#/components/schemas/{name}"}
        assert spec.errors(fixtures[name], schema, name) == []


def form_request(
    method: str, path: str, params: dict[str, Any] | None = None, **query: Any
) -> httpx.Request:
    return httpx.Request(
        method,
        f"https://api.stripe.com{path}",
        params=query or None,
        data=encode_form(params) if params is not None else None,
        headers={"Authorization": "Bearer sk_test_x"},
    )


def request_errors(spec: StripeSpec, request: httpx.Request) -> list[str]:
    return spec.request_errors(request, request.read())


def test_checker_accepts_a_valid_request(spec: StripeSpec) -> None:
    params = {"customer": "cus_1", "unit_amount": 5, "quantity": 2, "metadata": {"k": "v"}}
    assert request_errors(spec, form_request("POST", "/v1/invoiceitems", params)) == []


def test_checker_catches_an_unknown_body_parameter(spec: StripeSpec) -> None:
    errors = request_errors(
        spec, form_request("POST", "/v1/customers", {"name": "A", "currency": "usd"})
    )

    assert len(errors) == 1
    assert "'currency' was unexpected" in errors[0]


def test_checker_catches_a_wrong_type(spec: StripeSpec) -> None:
    errors = request_errors(
        spec, form_request("POST", "/v1/invoiceitems", {"customer": "cus_1", "amount": "ten"})
    )

    assert errors == ["POST /v1/invoiceitems body $.amount: 'ten' is not of type 'integer'"]


def test_checker_catches_a_missing_required_parameter(spec: StripeSpec) -> None:
    errors = request_errors(spec, form_request("POST", "/v1/invoiceitems", {"amount": 1}))

    assert errors == ["POST /v1/invoiceitems body $: 'customer' is a required property"]


def test_checker_catches_an_undeclared_query_parameter(spec: StripeSpec) -> None:
    errors = request_errors(spec, form_request("GET", "/v1/invoices", customer_id="cus_1"))

    assert errors == ["GET /v1/invoices: query parameter 'customer_id' is not declared"]


def test_checker_catches_an_unknown_operation(spec: StripeSpec) -> None:
    assert request_errors(spec, form_request("PUT", "/v1/invoices")) == [
        "PUT /v1/invoices: no such operation in the spec"
    ]


def test_checker_catches_a_missing_key(spec: StripeSpec) -> None:
    request = httpx.Request("GET", "https://api.stripe.com/v1/invoices")

    assert request_errors(spec, request) == ["GET /v1/invoices: no bearer secret key"]


def test_checker_catches_an_invalid_response(spec: StripeSpec) -> None:
    invoice = json.loads((SPEC_DIR / "fixtures3.json").read_text())["resources"]["invoice"]
    del invoice["lines"]["data"][0]["type"]
    invoice["status"] = "pending"

    errors = spec.response_errors("GET", "/v1/invoices/in_1", 200, json.dumps(invoice).encode())

    assert any("'type' is a required property" in error for error in errors)
    assert any("'pending' is not one of" in error for error in errors)


def test_checker_reads_error_bodies_by_the_error_schema(spec: StripeSpec) -> None:
    body = json.dumps({"error": {"type": "teapot_error"}}).encode()

    [error] = spec.response_errors("GET", "/v1/invoices/in_1", 404, body)

    assert "'teapot_error' is not one of" in error
