"""What the Stripe adapter sends, and what the sandbox answers, against Stripe's spec3.json."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from sandboxes.stripe import ManualClock, StripeState, create_app
from system_apis.billing.adapters.stripe import StripeAdapter
from system_apis.billing.mapping import encode_form
from system_apis.billing.schemas import (
    BillingCreditNoteCreate,
    BillingCreditNoteLineCreate,
    BillingCustomerCreate,
    BillingCustomerUpdate,
    BillingInterval,
    BillingPriceCreate,
    BillingProductCreate,
    BillingSubscriptionChange,
    BillingSubscriptionCreate,
    BillingSubscriptionItemChange,
    BillingSubscriptionItemCreate,
    CreditNoteReason,
    ProrationBehavior,
)
from system_apis.errors import BackendAuthError, BackendBusinessError, BackendNotFound
from tests.support.recording import RecordingTransport
from tests.support.stripe_sandbox import (
    DAY,
    JAN_1_2021,
    create_customer,
    create_invoice,
    sandbox_http,
    stripe_client,
)
from tests.support.stripe_spec import FIXTURES, StripeSpec, load_stripe_spec
from tests.support.vendor_specs import vendor_spec_text

ACME = BillingCustomerCreate(
    reference="cus_01acme", name="Acme Ltd", email="ap@acme.test", currency="USD"
)


@pytest.fixture(scope="module")
def spec() -> StripeSpec:
    return load_stripe_spec()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(JAN_1_2021)


@pytest.fixture
def recording(clock: ManualClock) -> RecordingTransport:
    return RecordingTransport(httpx.ASGITransport(app=create_app(StripeState(clock=clock))))


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
    renamed = BillingCustomerUpdate(name="Acme Group Ltd", email=None)
    updated = await adapter.update_customer(customer.id, renamed, idempotency_key="idem-u")
    assert (updated.name, updated.email, updated.reference) == (
        "Acme Group Ltd",
        None,
        "cus_01acme",
    )
    with pytest.raises(BackendNotFound):
        await adapter.update_customer("cus_missing", renamed, idempotency_key="idem-u2")

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
    await adapter.pay_invoice(invoices[1]["id"], idempotency_key="pay-1")
    await adapter.pay_invoice(invoices[0]["id"], paid_out_of_band=True, idempotency_key="pay-2")
    with pytest.raises(BackendBusinessError):
        await adapter.pay_invoice(invoices[0]["id"], idempotency_key="pay-3")


async def run_breadth_scenario(
    adapter: StripeAdapter, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    """Catalog, subscriptions, prorations, cancellation and credit notes, errors included."""
    customer = await adapter.create_customer(ACME, idempotency_key="b-cus")
    product = await adapter.create_product(
        BillingProductCreate(reference="prd_1", name="Pro", description="The pro plan"),
        idempotency_key="b-prod",
    )
    monthly = BillingPriceCreate(
        reference="prc_1",
        product_id=product.id,
        currency="USD",
        unit_amount=3000,
        interval=BillingInterval.MONTH,
        nickname="Pro monthly",
    )
    basic = await adapter.create_price(monthly, idempotency_key="b-price-1")
    pro = await adapter.create_price(
        monthly.model_copy(update={"unit_amount": 6000}), idempotency_key="b-price-2"
    )
    await adapter.create_price(
        monthly.model_copy(update={"interval": None}), idempotency_key="b-price-3"
    )
    await adapter.get_price(basic.id)
    with pytest.raises(BackendNotFound):
        await adapter.get_price("price_missing")
    prices = await adapter.list_prices(product_id=product.id, limit=2)
    await adapter.list_prices(product_id=product.id, cursor=prices.next_cursor)
    await http.get(f"/v1/products/{product.id}")
    assert [p.id async for p in adapter.stream_products()] == [product.id]
    assert len([p async for p in adapter.stream_prices()]) == 3

    subscription = await adapter.create_subscription(
        BillingSubscriptionCreate(
            reference="sub_1",
            customer_id=customer.id,
            items=(BillingSubscriptionItemCreate(price_id=basic.id, quantity=2),),
        ),
        idempotency_key="b-sub",
    )
    with pytest.raises(BackendBusinessError):
        await adapter.create_subscription(
            BillingSubscriptionCreate(
                reference="sub_2",
                customer_id=customer.id,
                items=(BillingSubscriptionItemCreate(price_id="price_missing"),),
            ),
            idempotency_key="b-sub-2",
        )
    await adapter.get_subscription(subscription.id)
    clock.advance(10 * DAY)
    item = subscription.items[0].id
    change = BillingSubscriptionChange(
        items=(BillingSubscriptionItemChange(item_id=item, price_id=pro.id, quantity=3),),
        proration_date=datetime.fromtimestamp(clock.now, UTC),
    )
    await adapter.preview_subscription_change(subscription.id, change)
    await adapter.change_subscription(subscription.id, change, idempotency_key="b-chg-1")
    for behavior in (ProrationBehavior.ALWAYS_INVOICE, ProrationBehavior.NONE):
        grow = BillingSubscriptionChange(
            items=(
                BillingSubscriptionItemChange(item_id=item, deleted=True),
                BillingSubscriptionItemChange(price_id=basic.id, quantity=1),
            )
            if behavior is ProrationBehavior.NONE
            else (BillingSubscriptionItemChange(item_id=item, quantity=4),),
            proration_behavior=behavior,
        )
        await adapter.preview_subscription_change(subscription.id, grow)
        await adapter.change_subscription(subscription.id, grow, idempotency_key=f"b-{behavior}")
    with pytest.raises(BackendBusinessError):
        await adapter.change_subscription(
            subscription.id,
            BillingSubscriptionChange(items=(BillingSubscriptionItemChange(item_id="si_no"),)),
            idempotency_key="b-chg-bad",
        )
    await http.get("/v1/invoices/upcoming", params={"customer": customer.id})
    canceled = await adapter.cancel_subscription(subscription.id, prorate=True, invoice_now=True)
    with pytest.raises(BackendNotFound):
        await adapter.cancel_subscription(subscription.id)

    paid = await adapter.get_invoice(canceled.latest_invoice_id or "")
    open_invoice = await create_invoice(http, customer.id, amounts=(700, 300), finalize=True)
    lines = open_invoice["lines"]["data"]
    note = BillingCreditNoteCreate(
        reference="cm_1",
        invoice_id=open_invoice["id"],
        lines=(
            BillingCreditNoteLineCreate(invoice_line_id=lines[0]["id"], amount=100),
            BillingCreditNoteLineCreate(description="Goodwill", unit_amount=50, quantity=2),
        ),
        reason=CreditNoteReason.PRODUCT_UNSATISFACTORY,
        memo="Sorry",
    )
    await adapter.preview_credit_note(note)
    created = await adapter.create_credit_note(note, idempotency_key="b-cn-1")
    await adapter.create_credit_note(note, idempotency_key="b-cn-1")
    with pytest.raises(BackendBusinessError):
        await adapter.create_credit_note(
            BillingCreditNoteCreate(invoice_id=open_invoice["id"], amount=5_000),
            idempotency_key="b-cn-2",
        )
    with pytest.raises(BackendBusinessError):
        await adapter.preview_credit_note(
            BillingCreditNoteCreate(invoice_id="in_missing", amount=1)
        )
    await adapter.get_credit_note(created.id)
    with pytest.raises(BackendNotFound):
        await adapter.get_credit_note("cn_missing")
    await adapter.list_credit_notes(invoice_id=open_invoice["id"])
    await adapter.list_credit_notes(limit=1)
    assert paid.id == canceled.latest_invoice_id


async def test_every_request_and_response_matches_the_spec(
    spec: StripeSpec,
    adapter: StripeAdapter,
    http: httpx.AsyncClient,
    recording: RecordingTransport,
    clock: ManualClock,
) -> None:
    await run_scenario(adapter, http)
    await run_breadth_scenario(adapter, http, clock)

    problems = [
        problem for exchange in recording.exchanges for problem in spec.exchange_errors(exchange)
    ]
    assert problems == []
    operations = {(e.request.method, template_of(spec, e.request)) for e in recording.exchanges}
    assert operations == {
        ("POST", "/v1/customers"),
        ("GET", "/v1/customers"),
        ("GET", "/v1/customers/{customer}"),
        ("POST", "/v1/customers/{customer}"),
        ("POST", "/v1/invoiceitems"),
        ("POST", "/v1/invoices"),
        ("GET", "/v1/invoices"),
        ("GET", "/v1/invoices/{invoice}"),
        ("POST", "/v1/invoices/{invoice}/finalize"),
        ("POST", "/v1/invoices/{invoice}/pay"),
        ("GET", "/v1/invoices/upcoming"),
        ("POST", "/v1/products"),
        ("GET", "/v1/products"),
        ("GET", "/v1/products/{id}"),
        ("POST", "/v1/prices"),
        ("GET", "/v1/prices"),
        ("GET", "/v1/prices/{price}"),
        ("POST", "/v1/subscriptions"),
        ("GET", "/v1/subscriptions/{subscription_exposed_id}"),
        ("POST", "/v1/subscriptions/{subscription_exposed_id}"),
        ("DELETE", "/v1/subscriptions/{subscription_exposed_id}"),
        ("POST", "/v1/credit_notes"),
        ("GET", "/v1/credit_notes"),
        ("GET", "/v1/credit_notes/preview"),
        ("GET", "/v1/credit_notes/{id}"),
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
    fixtures = json.loads(vendor_spec_text(FIXTURES))["resources"]
    names = ("customer", "invoice", "invoiceitem", "product", "price", "subscription")
    for name in (*names, "credit_note", "event"):
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
    invoice = json.loads(vendor_spec_text(FIXTURES))["resources"]["invoice"]
    del invoice["lines"]["data"][0]["type"]
    invoice["status"] = "pending"

    errors = spec.response_errors("GET", "/v1/invoices/in_1", 200, json.dumps(invoice).encode())

    assert any("'type' is a required property" in error for error in errors)
    assert any("'pending' is not one of" in error for error in errors)


def test_checker_reads_error_bodies_by_the_error_schema(spec: StripeSpec) -> None:
    body = json.dumps({"error": {"type": "teapot_error"}}).encode()

    [error] = spec.response_errors("GET", "/v1/invoices/in_1", 404, body)

    assert "'teapot_error' is not one of" in error


async def test_test_clocks_and_usage_record_summaries_match_the_spec(
    spec: StripeSpec, http: httpx.AsyncClient, recording: RecordingTransport
) -> None:
    """What a check in another process drives billing's time with, and reads its usage by."""
    clock = (
        await http.post(
            "/v1/test_helpers/test_clocks",
            data=encode_form({"frozen_time": JAN_1_2021, "name": "storm"}),
        )
    ).json()
    await http.get(f"/v1/test_helpers/test_clocks/{clock['id']}")
    customer = await create_customer(http)
    product = (await http.post("/v1/products", data=encode_form({"name": "Metered"}))).json()
    recurring = {"interval": "month", "usage_type": "metered", "aggregate_usage": "sum"}
    price = (
        await http.post(
            "/v1/prices",
            data=encode_form(
                {
                    "product": product["id"],
                    "currency": "usd",
                    "unit_amount": 2,
                    "recurring": recurring,
                }
            ),
        )
    ).json()
    subscription = (
        await http.post(
            "/v1/subscriptions",
            data=encode_form({"customer": customer["id"], "items": [{"price": price["id"]}]}),
        )
    ).json()
    item_id = subscription["items"]["data"][0]["id"]
    advance = f"/v1/test_helpers/test_clocks/{clock['id']}/advance"
    await http.post(advance, data=encode_form({"frozen_time": JAN_1_2021 + 2 * DAY}))
    await http.post(
        f"/v1/subscription_items/{item_id}/usage_records",
        data=encode_form({"quantity": 3, "timestamp": JAN_1_2021 + DAY}),
    )
    await http.post(advance, data=encode_form({"frozen_time": JAN_1_2021 + 40 * DAY}))
    summaries = await http.get(f"/v1/subscription_items/{item_id}/usage_record_summaries")
    assert [s["total_usage"] for s in summaries.json()["data"]] == [0, 3]

    problems = [
        problem for exchange in recording.exchanges for problem in spec.exchange_errors(exchange)
    ]
    assert problems == []
