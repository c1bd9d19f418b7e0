"""`StripeAdapter` against the Stripe sandbox in process, and against misbehaving fakes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import unquote

import httpx
import pytest

from sandboxes.stripe import StripeState, create_app
from system_apis.billing.adapters.stripe import StripeAdapter
from system_apis.billing.port import BillingPort
from system_apis.billing.schemas import BillingCustomerCreate, BillingInvoiceStatus
from system_apis.errors import (
    BackendAuthError,
    BackendBusinessError,
    BackendContractError,
    BackendNotFound,
    BackendTransientError,
)
from tests.support.recording import RecordingTransport
from tests.support.stripe_sandbox import create_customer, create_invoice, stripe_client

ACME = BillingCustomerCreate(
    reference="cus_01acme", name="Acme Ltd", email="ap@acme.test", currency="USD"
)


def test_the_adapter_is_a_billing_port(adapter: StripeAdapter) -> None:
    port: BillingPort = adapter
    assert port is adapter


async def test_create_customer(adapter: StripeAdapter, recording: RecordingTransport) -> None:
    customer = await adapter.create_customer(ACME, idempotency_key="idem-1")

    assert customer.id.startswith("cus_")
    assert (customer.reference, customer.name, customer.email) == (
        "cus_01acme",
        "Acme Ltd",
        "ap@acme.test",
    )
    assert customer.currency == "USD"
    [exchange] = recording.exchanges
    assert exchange.request.headers["Idempotency-Key"] == "idem-1"
    assert exchange.request.headers["Stripe-Version"] == "2020-08-27"
    assert exchange.request.headers["Authorization"] == "Bearer sk_test_ledgergate"
    assert exchange.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert unquote(exchange.request_body.decode()) == (
        "name=Acme+Ltd&email=ap@acme.test&metadata[ledgergate_id]=cus_01acme&metadata[currency]=usd"
    )


async def test_create_customer_twice_with_one_key_creates_one_customer(
    adapter: StripeAdapter, recording: RecordingTransport, stripe_state: StripeState
) -> None:
    first = await adapter.create_customer(ACME, idempotency_key="idem-1")
    second = await adapter.create_customer(ACME, idempotency_key="idem-1")

    assert second == first
    assert list(stripe_state.customers) == [first.id]
    assert "Idempotent-Replayed" not in recording.exchanges[0].response.headers
    assert recording.exchanges[1].response.headers["Idempotent-Replayed"] == "true"


async def test_one_key_for_other_params_is_an_idempotency_error(adapter: StripeAdapter) -> None:
    await adapter.create_customer(ACME, idempotency_key="idem-1")

    other = ACME.model_copy(update={"name": "Acme Holdings"})
    with pytest.raises(BackendBusinessError) as caught:
        await adapter.create_customer(other, idempotency_key="idem-1")

    assert type(caught.value) is BackendBusinessError
    assert caught.value.vendor_code == "idempotency_error"
    assert caught.value.vendor_status == 400
    assert "same parameters" in (caught.value.vendor_message or "")  # kept, not in `detail`


async def test_get_customer(adapter: StripeAdapter) -> None:
    created = await adapter.create_customer(ACME, idempotency_key="idem-1")

    assert await adapter.get_customer(created.id) == created


async def test_get_customer_reads_the_currency_stripe_set(
    adapter: StripeAdapter, http: httpx.AsyncClient
) -> None:
    created = await adapter.create_customer(ACME, idempotency_key="idem-1")
    await create_invoice(http, created.id, currency="eur")

    assert (await adapter.get_customer(created.id)).currency == "EUR"


async def test_missing_customer_is_not_found(adapter: StripeAdapter) -> None:
    with pytest.raises(BackendNotFound) as caught:
        await adapter.get_customer("cus_missing")

    assert caught.value.vendor_code == "resource_missing"
    assert caught.value.vendor_status == 404
    assert "No such customer" in (caught.value.vendor_message or "")


async def test_ids_are_escaped_into_the_path(
    adapter: StripeAdapter, recording: RecordingTransport
) -> None:
    with pytest.raises(BackendNotFound):
        await adapter.get_customer("../invoices")

    assert recording.exchanges[0].request.url.raw_path == b"/v1/customers/..%2Finvoices"


async def test_get_invoice(adapter: StripeAdapter, http: httpx.AsyncClient) -> None:
    customer = await create_customer(http)
    seeded = await create_invoice(
        http, customer["id"], amounts=(1_000, 250), metadata={"ledgergate_id": "inv_01"}, pay=True
    )

    invoice = await adapter.get_invoice(seeded["id"])

    assert invoice.id == seeded["id"]
    assert invoice.customer_id == customer["id"]
    assert invoice.status is BillingInvoiceStatus.PAID
    assert (invoice.currency, invoice.subtotal, invoice.tax, invoice.total) == (
        "USD",
        1_250,
        0,
        1_250,
    )
    assert invoice.amount_paid == 1_250
    assert invoice.reference == "inv_01"


async def test_missing_invoice_is_not_found(adapter: StripeAdapter) -> None:
    with pytest.raises(BackendNotFound) as caught:
        await adapter.get_invoice("in_missing")

    assert caught.value.vendor_code == "resource_missing"


async def test_list_invoices_walks_every_page(
    adapter: StripeAdapter, http: httpx.AsyncClient
) -> None:
    customer = await create_customer(http)
    other = await create_customer(http, name="Other")
    seeded = [(await create_invoice(http, customer["id"]))["id"] for _ in range(5)]
    await create_invoice(http, other["id"])

    pages, cursor = [], None
    while True:
        page = await adapter.list_invoices(customer_id=customer["id"], limit=2, cursor=cursor)
        pages.append([invoice.id for invoice in page.invoices])
        if (cursor := page.next_cursor) is None:
            break

    assert [len(ids) for ids in pages] == [2, 2, 1]
    assert [invoice_id for ids in pages for invoice_id in ids] == list(reversed(seeded))


async def test_list_invoices_of_everyone(adapter: StripeAdapter, http: httpx.AsyncClient) -> None:
    for name in ("A", "B"):
        await create_invoice(http, (await create_customer(http, name=name))["id"])

    page = await adapter.list_invoices()

    assert len(page.invoices) == 2
    assert page.next_cursor is None


async def test_unknown_cursor_is_refused_with_stripes_code(adapter: StripeAdapter) -> None:
    with pytest.raises(BackendBusinessError) as caught:
        await adapter.list_invoices(cursor="in_missing")

    assert caught.value.vendor_status == 400
    assert caught.value.vendor_code == "resource_missing"


async def test_bad_api_key_is_an_auth_error(stripe_state: StripeState) -> None:
    client = stripe_client(
        httpx.ASGITransport(app=create_app(stripe_state)), api_key="sk_live_oops"
    )
    try:
        with pytest.raises(BackendAuthError) as caught:
            await StripeAdapter(client).get_customer("cus_any")
    finally:
        await client.aclose()

    assert caught.value.vendor_status == 401
    assert caught.value.vendor_code == "invalid_request_error"
    assert "sk_live_oops" not in str(caught.value)  # not even in what a run records


Responder = Callable[[httpx.Request], httpx.Response]


async def call_with(
    responder: Responder, call: Callable[[StripeAdapter], Awaitable[object]]
) -> None:
    client = stripe_client(httpx.MockTransport(responder))
    try:
        await call(StripeAdapter(client))
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    "content",
    [b'{"id": "cus_1", ', b"<html>ok</html>", b'{"id": "cus_1", "object": "invoice"}'],
    ids=["truncated", "not-json", "wrong-shape"],
)
async def test_malformed_body_is_a_contract_error(content: bytes) -> None:
    with pytest.raises(BackendContractError) as caught:
        await call_with(
            lambda _: httpx.Response(200, content=content), lambda a: a.get_customer("cus_1")
        )

    assert caught.value.operation == "get_customer"


async def test_deleted_customer_is_not_found() -> None:
    body = {"id": "cus_1", "object": "customer", "deleted": True}
    with pytest.raises(BackendNotFound) as caught:
        await call_with(lambda _: httpx.Response(200, json=body), lambda a: a.get_customer("cus_1"))

    assert caught.value.vendor_code == "deleted"


def stripe_error(status: int, type_: str, code: str | None = None) -> Responder:
    error = {"type": type_, "message": "refused"} | ({"code": code} if code else {})
    return lambda _: httpx.Response(status, json={"error": error})


@pytest.mark.parametrize(
    ("responder", "error_class", "vendor_code"),
    [
        (stripe_error(402, "card_error", "card_declined"), BackendBusinessError, "card_declined"),
        (
            stripe_error(400, "invalid_request_error", "parameter_missing"),
            BackendBusinessError,
            "parameter_missing",
        ),
        (
            stripe_error(400, "invalid_request_error", "resource_missing"),
            BackendBusinessError,
            "resource_missing",
        ),
        (
            stripe_error(429, "invalid_request_error", "rate_limit"),
            BackendTransientError,
            "rate_limit",
        ),
        (stripe_error(500, "api_error"), BackendTransientError, "api_error"),
        (lambda _: httpx.Response(502, text="Bad Gateway"), BackendTransientError, None),
    ],
    ids=["card", "parameter", "missing-reference", "rate-limit", "api-error", "non-stripe-body"],
)
async def test_stripe_errors_are_classified(
    responder: Responder, error_class: type[Exception], vendor_code: str | None
) -> None:
    with pytest.raises(error_class) as caught:
        await call_with(responder, lambda a: a.get_invoice("in_1"))

    assert type(caught.value) is error_class
    assert getattr(caught.value, "vendor_code", None) == vendor_code
