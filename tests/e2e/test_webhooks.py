"""`POST /webhooks/billing/stripe`: the Stripe sandbox delivers signed events to the
gateway in process; each accepted event reaches the inbox once."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.webhooks.store import DatabaseReplayStore
from core.models import WebhookInboxRow, WebhookReceiptRow
from sandboxes.stripe import WebhookEndpoint, signature_header
from system_apis.billing.schemas import (
    BillingCustomerCreate,
    BillingPriceCreate,
    BillingProductCreate,
    BillingSubscriptionCreate,
    BillingSubscriptionItemCreate,
)
from tests.conftest import Gateway

URL = "http://gateway.test/webhooks/billing/stripe"
SECRET = "whsec_sandbox"  # the test settings' webhook secret
PROBLEMS = "https://ledgergate.dev/problems/"


def event(event_id: str = "evt_test_1", event_type: str = "customer.created") -> bytes:
    body = {
        "id": event_id,
        "object": "event",
        "api_version": "2020-08-27",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "data": {"object": {"id": "cus_x", "object": "customer"}},
    }
    return json.dumps(body).encode()


async def deliver(
    gateway: Gateway, payload: bytes, *, signature: str | None = None, at: int | None = None
) -> httpx.Response:
    header = signature or signature_header(payload, SECRET, at or int(time.time()))
    return await gateway.anonymous.post(
        "/webhooks/billing/stripe",
        content=payload,
        headers={"Content-Type": "application/json", "Stripe-Signature": header},
    )


async def inbox(gateway: Gateway) -> list[WebhookInboxRow]:
    async with gateway.sessionmaker() as session:
        return list(
            (await session.scalars(select(WebhookInboxRow).order_by(WebhookInboxRow.id))).all()
        )


async def test_events_sent_by_the_stripe_sandbox_reach_the_inbox_once(gateway: Gateway) -> None:
    stripe = gateway.backends.billing_sandbox
    assert stripe is not None
    stripe.webhook_endpoints.append(WebhookEndpoint(url=URL, secret=SECRET, app=gateway.app))
    billing = gateway.backends.billing
    customer = await billing.create_customer(
        BillingCustomerCreate(reference="cus_1", name="Acme", currency="USD"), idempotency_key="c"
    )
    product = await billing.create_product(
        BillingProductCreate(reference="prod_1", name="Pro"), idempotency_key="p"
    )
    price = await billing.create_price(
        BillingPriceCreate(
            product_id=product.id, currency="USD", unit_amount=4900, interval="month"
        ),
        idempotency_key="pr",
    )
    await billing.create_subscription(
        BillingSubscriptionCreate(
            reference="sub_1",
            customer_id=customer.id,
            items=(BillingSubscriptionItemCreate(price_id=price.id),),
        ),
        idempotency_key="s",
    )

    rows = await inbox(gateway)
    assert [(r.vendor_type, r.event_type) for r in rows] == [
        ("invoice.finalized", "invoice.finalized"),
        ("invoice.paid", "invoice.paid"),
    ]
    assert all(a.status == 200 for a in stripe.webhook_attempts)
    paid = rows[1]
    assert (paid.event_id, paid.processed_at) == (stripe.events[-1]["id"], None)
    assert paid.payload["invoice"]["customer_id"] == customer.id
    assert paid.payload["invoice"]["status"] == "paid"

    replay = json.dumps(stripe.events[-1], separators=(",", ":")).encode()
    response = await deliver(gateway, replay)
    assert (response.status_code, response.json()) == (200, {"received": True, "duplicate": True})
    assert len(await inbox(gateway)) == 2


async def test_an_accepted_event_is_acknowledged(gateway: Gateway) -> None:
    response = await deliver(gateway, event())
    assert (response.status_code, response.json()) == (200, {"received": True, "duplicate": False})
    (row,) = await inbox(gateway)
    assert (row.event_id, row.event_type, row.vendor_type) == (
        "evt_test_1",
        "other",
        "customer.created",
    )


@pytest.mark.parametrize(
    ("signature", "slug"),
    [
        ("t=notanumber,v1=abc", "webhook-signature-header-invalid"),
        ("garbage", "webhook-signature-header-invalid"),
        (f"t={int(time.time())},v1={'0' * 64}", "webhook-signature-mismatch"),
    ],
)
async def test_a_delivery_that_cannot_be_verified_is_a_400_problem(
    gateway: Gateway, signature: str, slug: str
) -> None:
    headers = {"Content-Type": "application/json", "Stripe-Signature": signature}
    response = await gateway.anonymous.post(
        "/webhooks/billing/stripe", content=event(), headers=headers
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == PROBLEMS + slug
    assert await inbox(gateway) == []


async def test_another_secret_or_a_stale_timestamp_is_refused(gateway: Gateway) -> None:
    payload = event()
    forged = await deliver(
        gateway, payload, signature=signature_header(payload, "whsec_other", int(time.time()))
    )
    assert forged.json()["type"] == PROBLEMS + "webhook-signature-mismatch"
    stale = await deliver(gateway, payload, at=int(time.time()) - 301)
    assert (stale.status_code, stale.json()["type"]) == (
        400,
        PROBLEMS + "webhook-timestamp-outside-tolerance",
    )
    garbled = await deliver(gateway, b'{"id": "evt_1", "object": "charge"}')
    assert garbled.json()["type"] == PROBLEMS + "webhook-payload-invalid"
    not_json = await deliver(gateway, b"\xff\xfe not json")
    assert not_json.status_code == 400
    assert await inbox(gateway) == []
    # Nothing refused was claimed: the genuine delivery is still accepted.
    assert (await deliver(gateway, payload)).json()["duplicate"] is False


async def test_concurrent_duplicates_store_one_event(gateway: Gateway) -> None:
    payload = event("evt_concurrent")
    answers = await asyncio.gather(*(deliver(gateway, payload) for _ in range(4)))
    assert [a.status_code for a in answers] == [200] * 4
    assert sorted(a.json()["duplicate"] for a in answers) == [False, True, True, True]
    assert [row.event_id for row in await inbox(gateway)] == ["evt_concurrent"]


async def test_a_redelivery_after_the_receipt_is_purged_is_still_stored_once(
    gateway: Gateway,
) -> None:
    assert (await deliver(gateway, event("evt_late"))).json()["duplicate"] is False
    async with gateway.sessionmaker() as session:
        store = DatabaseReplayStore(session, provider="stripe", tolerance_seconds=300)
        await store.release("evt_late")
        await session.commit()
    late = await deliver(gateway, event("evt_late"))
    assert (late.status_code, late.json()["duplicate"]) == (200, True)
    assert len(await inbox(gateway)) == 1


async def receipts(gateway: Gateway) -> dict[str, Any]:
    async with gateway.sessionmaker() as session:
        rows = await session.scalars(select(WebhookReceiptRow))
        return {row.event_id: row.received_at for row in rows}


async def test_receipts_are_purged_after_twice_the_tolerance(gateway: Gateway) -> None:
    start = time.time()

    async def claim(event_id: str, now: float) -> bool:
        async with gateway.sessionmaker() as session:
            store = DatabaseReplayStore(session, provider="stripe", tolerance_seconds=300)
            claimed = await store.claim(event_id, now=now)
            await session.commit()
            return claimed

    assert await claim("evt_a", start)
    assert not await claim("evt_a", start + 600)  # a replay inside the window is caught
    assert await claim("evt_b", start + 601)  # and this claim purges evt_a's receipt
    assert set(await receipts(gateway)) == {"evt_b"}
    assert await claim("evt_a", start + 602)

    async with gateway.sessionmaker() as session:
        count = await session.scalar(select(func.count()).select_from(WebhookReceiptRow))
    assert count == 2


async def test_the_signature_header_is_declared_required(gateway: Gateway) -> None:
    operation = gateway.app.openapi()["paths"]["/webhooks/billing/stripe"]["post"]
    [header] = [p for p in operation["parameters"] if p["name"] == "Stripe-Signature"]
    assert header["required"] is True
    unsigned = await gateway.anonymous.post(
        "/webhooks/billing/stripe", content=event(), headers={"Content-Type": "application/json"}
    )
    assert unsigned.status_code == 422  # a missing header, like any other required one
    assert await inbox(gateway) == []
