"""`verify_stripe_event`: signatures, tolerance, replays; and an in-process receiver using it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandboxes.stripe import (
    ManualClock,
    StripeState,
    WebhookEndpoint,
    create_app,
    deliver_event,
    signature_header,
)
from system_apis.billing.adapters.stripe import StripeAdapter
from system_apis.billing.schemas import (
    BillingCreditNoteCreate,
    BillingEvent,
    BillingEventType,
    BillingInvoiceStatus,
    BillingSubscriptionChange,
    BillingSubscriptionCreate,
    BillingSubscriptionItemChange,
    BillingSubscriptionItemCreate,
    BillingSubscriptionStatus,
    ProrationBehavior,
)
from system_apis.billing.webhooks import (
    InMemoryReplayStore,
    WebhookHeaderInvalid,
    WebhookPayloadInvalid,
    WebhookReplayed,
    WebhookSignatureMismatch,
    WebhookTimestampOutsideTolerance,
    WebhookVerificationError,
    verify_stripe_event,
)
from tests.support.stripe_sandbox import (
    DAY,
    JAN_1_2021,
    create_customer,
    create_invoice,
    create_price,
    stripe_client,
)

SECRET = "whsec_test"
NOW = JAN_1_2021


def event(type_: str = "invoice.paid", event_id: str = "evt_1", **obj: Any) -> bytes:
    invoice = {
        "id": "in_1",
        "object": "invoice",
        "customer": "cus_1",
        "currency": "usd",
        "status": "paid",
        "subtotal": 900,
        "tax": None,
        "total": 900,
        "amount_paid": 900,
        "metadata": {"ledgergate_id": "inv_01"},
    } | obj
    body = {
        "id": event_id,
        "object": "event",
        "type": type_,
        "created": NOW,
        "data": {"object": invoice},
        "livemode": False,
        "pending_webhooks": 1,
        "api_version": "2020-08-27",
        "request": {"id": None, "idempotency_key": None},
    }
    return json.dumps(body).encode()


async def verify(
    payload: bytes,
    header: str | None,
    *,
    store: InMemoryReplayStore | None = None,
    at: float = NOW,
    secret: str = SECRET,
) -> BillingEvent:
    return await verify_stripe_event(
        payload,
        header,
        secret,
        replay_store=InMemoryReplayStore() if store is None else store,
        now=lambda: at,
    )


async def test_a_signed_invoice_paid_event_is_canonical() -> None:
    payload = event()

    verified = await verify(payload, signature_header(payload, SECRET, NOW))

    assert (verified.id, verified.type, verified.vendor_type) == (
        "evt_1",
        BillingEventType.INVOICE_PAID,
        "invoice.paid",
    )
    assert verified.invoice is not None
    assert (verified.invoice.status, verified.invoice.amount_paid, verified.invoice.reference) == (
        BillingInvoiceStatus.PAID,
        900,
        "inv_01",
    )
    assert verified.occurred_at.timestamp() == NOW


async def test_unknown_event_types_are_other() -> None:
    payload = event("customer.created")

    verified = await verify(payload, signature_header(payload, SECRET, NOW))

    assert (verified.type, verified.invoice) == (BillingEventType.OTHER, None)


async def test_any_matching_v1_signature_is_enough() -> None:
    payload = event()
    old = signature_header(payload, "whsec_old", NOW).split(",")[1]
    header = f"{signature_header(payload, SECRET, NOW)},{old},v0=abc"

    assert (await verify(payload, header)).id == "evt_1"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        "t=,v1=ab",
        "t=abc,v1=ab",
        "v1=abcdef",
        f"t={NOW}",
        f"t={NOW},v0=ab",
        f"t={NOW},t={NOW},v1=ab",
        f"t={NOW};v1=ab",
    ],
)
async def test_missing_or_garbled_headers_are_refused(header: str | None) -> None:
    with pytest.raises(WebhookHeaderInvalid):
        await verify(event(), header)


async def test_a_wrong_secret_or_altered_payload_is_refused() -> None:
    payload = event()
    header = signature_header(payload, SECRET, NOW)

    with pytest.raises(WebhookSignatureMismatch):
        await verify(payload, header, secret="whsec_other")
    with pytest.raises(WebhookSignatureMismatch):
        await verify(payload.replace(b"900", b"9000"), header)
    with pytest.raises(WebhookSignatureMismatch):  # the signature binds the timestamp
        await verify(payload, header.replace(f"t={NOW}", f"t={NOW + 1}"), at=NOW + 1)


@pytest.mark.parametrize(
    ("skew", "accepted"), [(300, True), (-300, True), (301, False), (-301, False)]
)
async def test_timestamps_outside_the_tolerance_are_refused(skew: int, accepted: bool) -> None:
    payload = event()
    header = signature_header(payload, SECRET, NOW)

    if accepted:
        assert (await verify(payload, header, at=NOW + skew)).id == "evt_1"
    else:
        with pytest.raises(WebhookTimestampOutsideTolerance):
            await verify(payload, header, at=NOW + skew)


async def test_replays_are_refused_until_released() -> None:
    store = InMemoryReplayStore()
    payload = event()
    await verify(payload, signature_header(payload, SECRET, NOW), store=store)

    with pytest.raises(WebhookReplayed) as caught:  # even re-signed, as Stripe's retries are
        await verify(payload, signature_header(payload, SECRET, NOW + 60), store=store, at=NOW + 60)
    await store.release("evt_1")

    assert caught.value.status_code == 409
    assert (
        await verify(payload, signature_header(payload, SECRET, NOW), store=store)
    ).id == "evt_1"


async def test_a_refused_delivery_does_not_claim_its_id() -> None:
    store = InMemoryReplayStore()
    payload = event()
    with pytest.raises(WebhookSignatureMismatch):
        await verify(payload, signature_header(payload, "whsec_other", NOW), store=store)

    assert len(store) == 0


async def test_the_memory_store_forgets_after_retention_and_is_bounded() -> None:
    store = InMemoryReplayStore(retention=timedelta(hours=1), max_entries=2)

    assert await store.claim("evt_a", now=0)
    assert not await store.claim("evt_a", now=3599)
    assert await store.claim("evt_a", now=3600)  # expired, claimed afresh
    assert await store.claim("evt_b", now=3601)
    assert await store.claim("evt_c", now=3602)  # evicts the oldest

    assert len(store) == 2
    assert await store.claim("evt_a", now=3603)


@pytest.mark.parametrize(
    "payload",
    [b"not json", b'{"id": "evt_1"}', event(customer=None), event("credit_note.created")],
    ids=["not-json", "not-an-event", "bad-invoice", "wrong-object"],
)
async def test_signed_garbage_is_refused(payload: bytes) -> None:
    with pytest.raises(WebhookPayloadInvalid):
        await verify(payload, signature_header(payload, SECRET, NOW))


# --- an in-process receiver behind the sandbox --------------------------------------------


class ReceiverApp:
    """What a gateway receiver does with the verifier: 2xx accepted or replayed, 400 refused."""

    def __init__(self, clock: ManualClock, *, fail_first: int = 0) -> None:
        self.clock = clock
        self.store = InMemoryReplayStore()
        self.events: list[BillingEvent] = []
        self.refusals: list[str] = []
        self.fail_first = fail_first

    async def receive(self, request: Request) -> Response:
        try:
            event = await verify_stripe_event(
                await request.body(),
                request.headers.get("Stripe-Signature"),
                SECRET,
                replay_store=self.store,
                now=self.clock,
            )
        except WebhookReplayed:
            return JSONResponse({"received": "already"})
        except WebhookVerificationError as exc:
            self.refusals.append(exc.slug)
            return JSONResponse({"error": exc.slug}, status_code=400)
        if self.fail_first:
            self.fail_first -= 1
            await self.store.release(event.id)  # processing failed: let the retry through
            return JSONResponse({"error": "busy"}, status_code=503)
        self.events.append(event)
        return JSONResponse({"received": event.id})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hooks/stripe", self.receive, methods=["POST"])])


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(JAN_1_2021)


@pytest.fixture
def receiver(clock: ManualClock) -> ReceiverApp:
    return ReceiverApp(clock)


@pytest.fixture
def stripe_state(clock: ManualClock, receiver: ReceiverApp) -> StripeState:
    endpoint = WebhookEndpoint(
        url="http://gateway.test/hooks/stripe", secret=SECRET, app=receiver.app()
    )
    return StripeState(clock=clock, webhook_endpoints=[endpoint], webhook_retry_delays=(0.0, 0.0))


@pytest.fixture
async def adapter(stripe_state: StripeState) -> AsyncIterator[StripeAdapter]:
    client = stripe_client(httpx.ASGITransport(app=create_app(stripe_state)))
    yield StripeAdapter(client)
    await client.aclose()


async def test_the_receiver_gets_canonical_events_for_a_subscription_lifecycle(
    adapter: StripeAdapter, http: httpx.AsyncClient, receiver: ReceiverApp, clock: ManualClock
) -> None:
    customer = await create_customer(http)
    basic, pro = (
        await create_price(http, unit_amount=3000),
        await create_price(http, unit_amount=6000),
    )
    subscription = await adapter.create_subscription(
        BillingSubscriptionCreate(
            reference="sub_01",
            customer_id=customer["id"],
            items=(BillingSubscriptionItemCreate(price_id=basic["id"]),),
        ),
        idempotency_key="sub-1",
    )
    clock.advance(10 * DAY)
    change = BillingSubscriptionChange(
        items=(
            BillingSubscriptionItemChange(item_id=subscription.items[0].id, price_id=pro["id"]),
        ),
        proration_behavior=ProrationBehavior.ALWAYS_INVOICE,
    )
    changed = await adapter.change_subscription(subscription.id, change, idempotency_key="chg-1")
    await adapter.create_credit_note(
        BillingCreditNoteCreate(invoice_id=changed.latest_invoice_id or "", amount=100),
        idempotency_key="cn-1",
    )
    await adapter.cancel_subscription(subscription.id)

    assert [e.type for e in receiver.events] == [
        BillingEventType.INVOICE_FINALIZED,
        BillingEventType.INVOICE_PAID,
        BillingEventType.INVOICE_FINALIZED,
        BillingEventType.INVOICE_PAID,
        BillingEventType.SUBSCRIPTION_UPDATED,
        BillingEventType.CREDIT_NOTE_CREATED,
        BillingEventType.SUBSCRIPTION_CANCELED,
    ]
    paid_for_change = receiver.events[3].invoice
    assert paid_for_change is not None
    assert paid_for_change.total == -2032 + 4065
    updated = receiver.events[4].subscription
    assert updated is not None
    assert updated.items[0].price_id == pro["id"]
    credit_note = receiver.events[5].credit_note
    assert credit_note is not None
    assert credit_note.total == 100
    canceled = receiver.events[6].subscription
    assert canceled is not None
    assert canceled.status is BillingSubscriptionStatus.CANCELED
    assert receiver.refusals == []


async def test_a_receiver_failure_is_retried_and_then_accepted(
    stripe_state: StripeState, http: httpx.AsyncClient, receiver: ReceiverApp
) -> None:
    receiver.fail_first = 1
    customer = await create_customer(http)

    await create_invoice(http, customer["id"], pay=True)

    assert [e.type for e in receiver.events] == [
        BillingEventType.INVOICE_FINALIZED,
        BillingEventType.INVOICE_PAID,
    ]
    assert [a.status for a in stripe_state.webhook_attempts] == [503, 200, 200]


async def test_the_receiver_refuses_a_sender_with_another_secret(
    stripe_state: StripeState, http: httpx.AsyncClient, receiver: ReceiverApp
) -> None:
    stripe_state.webhook_endpoints[0] = WebhookEndpoint(
        url="http://gateway.test/hooks/stripe", secret="whsec_wrong", app=receiver.app()
    )
    customer = await create_customer(http)

    await create_invoice(http, customer["id"], finalize=True)

    assert receiver.events == []
    assert receiver.refusals == ["webhook-signature-mismatch"] * 3
    assert [a.status for a in stripe_state.webhook_attempts] == [400, 400, 400]


async def test_a_redelivered_event_is_acknowledged_once(
    stripe_state: StripeState, http: httpx.AsyncClient, receiver: ReceiverApp
) -> None:
    customer = await create_customer(http)
    await create_invoice(http, customer["id"], finalize=True)
    endpoint, [finalized] = stripe_state.webhook_endpoints[0], stripe_state.events

    assert await deliver_event(stripe_state, endpoint, finalized)
    assert [e.id for e in receiver.events] == [finalized["id"]]
