"""Wiring and data helpers for tests that run against the Stripe sandbox in process."""

from __future__ import annotations

from typing import Any

import httpx

from core.settings import BillingSettings
from system_apis.billing.adapters.stripe import stripe_headers
from system_apis.billing.mapping import encode_form
from system_apis.http import ResilientClient

SANDBOX_KEY = "sk_test_ledgergate"
API_ROOT = "http://stripe.sandbox"


def billing_settings(api_key: str = SANDBOX_KEY) -> BillingSettings:
    """Settings with instant retries, so transient-fault tests do not sleep."""
    return BillingSettings(
        api_key=api_key,
        retry_initial_backoff_seconds=0,
        retry_max_backoff_seconds=0,
    )


def stripe_client(
    transport: httpx.AsyncBaseTransport, *, api_key: str = SANDBOX_KEY
) -> ResilientClient:
    """The client the composition root would build for Stripe, over `transport`."""
    settings = billing_settings(api_key)
    return ResilientClient(
        backend="billing",
        base_url=API_ROOT,
        settings=settings,
        headers=stripe_headers(settings),
        transport=transport,
    )


def sandbox_http(transport: httpx.AsyncBaseTransport) -> httpx.AsyncClient:
    """A plain client speaking to the sandbox directly, for seeding and wire-level tests."""
    settings = billing_settings()
    return httpx.AsyncClient(
        base_url=API_ROOT, headers=stripe_headers(settings), transport=transport
    )


async def post(http: httpx.AsyncClient, path: str, params: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(path, data=encode_form(params))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def create_customer(http: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    return await post(http, "/v1/customers", {"name": "Acme Ltd", **params})


async def create_invoice(
    http: httpx.AsyncClient,
    customer_id: str,
    *,
    amounts: tuple[int, ...] = (1_000,),
    currency: str = "usd",
    metadata: dict[str, str] | None = None,
    finalize: bool = False,
    pay: bool = False,
) -> dict[str, Any]:
    """A manual invoice of one invoice item per amount, optionally finalized and paid."""
    for amount in amounts:
        await post(
            http,
            "/v1/invoiceitems",
            {"customer": customer_id, "amount": amount, "currency": currency},
        )
    invoice = await post(
        http,
        "/v1/invoices",
        {"customer": customer_id, "auto_advance": False, "metadata": metadata},
    )
    if finalize or pay:
        invoice = await post(http, f"/v1/invoices/{invoice['id']}/finalize", {})
    if pay:
        invoice = await post(http, f"/v1/invoices/{invoice['id']}/pay", {"paid_out_of_band": True})
    return invoice


JAN_1_2021 = 1_609_459_200  # 2021-01-01T00:00:00Z: January has 31 days
DAY = 86_400


async def create_price(
    http: httpx.AsyncClient,
    *,
    unit_amount: int,
    interval: str | None = "month",
    currency: str = "usd",
    product_name: str = "Ledgergate Pro",
) -> dict[str, Any]:
    """A product and one price of it (recurring unless `interval` is None)."""
    product = await post(http, "/v1/products", {"name": product_name})
    recurring = None if interval is None else {"interval": interval}
    return await post(
        http,
        "/v1/prices",
        {
            "product": product["id"],
            "currency": currency,
            "unit_amount": unit_amount,
            "recurring": recurring,
        },
    )


async def create_subscription(
    http: httpx.AsyncClient, customer_id: str, *items: tuple[str, int], **params: Any
) -> dict[str, Any]:
    """A subscription of `(price id, quantity)` items."""
    return await post(
        http,
        "/v1/subscriptions",
        {
            "customer": customer_id,
            "items": [{"price": price, "quantity": quantity} for price, quantity in items],
            **params,
        },
    )
