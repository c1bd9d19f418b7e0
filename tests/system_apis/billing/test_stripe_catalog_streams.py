"""The Stripe adapter reads every product and price, active or not, across pages."""

from __future__ import annotations

import httpx

from sandboxes.stripe import StripeState
from system_apis.billing.adapters.stripe import STREAM_PAGE, StripeAdapter
from system_apis.billing.schemas import BillingInterval, BillingPriceCreate, BillingProductCreate
from tests.support.recording import RecordingTransport
from tests.support.stripe_sandbox import post


async def test_every_product_and_price_is_streamed_across_pages(
    adapter: StripeAdapter,
    http: httpx.AsyncClient,
    stripe_state: StripeState,
    recording: RecordingTransport,
) -> None:
    product = await adapter.create_product(
        BillingProductCreate(reference="prod_ours", name="Ledgergate"), idempotency_key="p"
    )
    for amount in range(STREAM_PAGE + 1):
        await adapter.create_price(
            BillingPriceCreate(
                product_id=product.id,
                currency="USD",
                unit_amount=amount,
                interval=BillingInterval.MONTH if amount % 2 else None,
            ),
            idempotency_key=f"price-{amount}",
        )
    first = next(iter(stripe_state.prices))
    stripe_state.prices[first]["active"] = False
    await post(http, "/v1/products", {"name": "Retired", "active": "false"})

    prices = [price async for price in adapter.stream_prices()]
    products = [found async for found in adapter.stream_products()]

    assert sorted(p.unit_amount or 0 for p in prices) == list(range(STREAM_PAGE + 1))
    assert {p.id for p in prices if not p.active} == {first}
    assert {p.interval for p in prices} == {BillingInterval.MONTH, None}
    assert {(p.name, p.active, p.reference) for p in products} == {
        ("Ledgergate", True, "prod_ours"),
        ("Retired", False, None),
    }
    listed = [e.request for e in recording.exchanges if e.request.method == "GET"]
    assert [r.url.path for r in listed] == ["/v1/prices", "/v1/prices", "/v1/products"]
    assert listed[1].url.params["starting_after"] == prices[STREAM_PAGE - 1].id
