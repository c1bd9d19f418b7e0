"""The Stripe sandbox as a webhook sender: which events, how they are signed, retries."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandboxes.stripe import (
    WEBHOOK_RETRY_DELAYS,
    ManualClock,
    StripeState,
    WebhookEndpoint,
    deliver_event,
)
from tests.support.stripe_sandbox import (
    DAY,
    JAN_1_2021,
    create_customer,
    create_invoice,
    create_price,
    create_subscription,
    post,
)

SECRET = "whsec_test"
URL = "http://receiver.test/webhooks/stripe"


@dataclass
class Receiver:
    """An ASGI endpoint that records deliveries and answers the statuses it is given."""

    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def receive(request: Request) -> Response:
            self.received.append((dict(request.headers), await request.body()))
            return Response(status_code=self.statuses.pop(0) if self.statuses else 200)

        return Starlette(routes=[Route("/webhooks/stripe", receive, methods=["POST"])])

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


@dataclass
class Sleeps:
    delays: list[float] = field(default_factory=list)

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def stripe_state(receiver: Receiver, sleeps: Sleeps) -> StripeState:
    endpoint = WebhookEndpoint(url=URL, secret=SECRET, app=receiver.app())
    return StripeState(
        clock=ManualClock(JAN_1_2021), webhook_endpoints=[endpoint], webhook_sleep=sleeps
    )


async def test_invoice_events_are_sent_signed(http: httpx.AsyncClient, receiver: Receiver) -> None:
    customer = await create_customer(http)

    invoice = await create_invoice(http, customer["id"], finalize=True)
    await http.post(f"/v1/invoices/{invoice['id']}/pay", headers={"Idempotency-Key": "pay-1"})

    assert [e["type"] for e in receiver.events] == ["invoice.finalized", "invoice.paid"]
    finalized, paid = receiver.events
    assert (finalized["data"]["object"]["status"], paid["data"]["object"]["status"]) == (
        "open",
        "paid",
    )
    assert paid["request"]["idempotency_key"] == "pay-1"
    assert (paid["object"], paid["api_version"], paid["pending_webhooks"]) == (
        "event",
        "2020-08-27",
        1,
    )
    headers, body = receiver.received[1]
    assert headers["content-type"].startswith("application/json")
    timestamp, _, signature = headers["stripe-signature"].partition(",v1=")
    assert timestamp == f"t={JAN_1_2021}"
    expected = hmac.new(SECRET.encode(), f"{JAN_1_2021}.".encode() + body, hashlib.sha256)
    assert signature == expected.hexdigest()


async def test_a_declined_payment_method_sends_invoice_payment_failed(
    http: httpx.AsyncClient, receiver: Receiver, stripe_state: StripeState
) -> None:
    customer = await create_customer(
        http, invoice_settings={"default_payment_method": "pm_card_chargeCustomerFail"}
    )
    price = await create_price(http, unit_amount=3000)
    subscription = await create_subscription(http, customer["id"], (price["id"], 1))

    assert [e["type"] for e in receiver.events][-2:] == [
        "invoice.finalized",
        "invoice.payment_failed",
    ]
    failed = receiver.events[-1]["data"]["object"]
    assert (failed["id"], failed["status"], failed["attempt_count"]) == (
        subscription["latest_invoice"],
        "open",
        1,
    )
    declined = await http.post(f"/v1/invoices/{failed['id']}/pay")
    assert declined.status_code == 402
    assert declined.json()["error"]["type"] == "card_error"
    assert receiver.events[-1]["type"] == "invoice.payment_failed"
    assert stripe_state.invoices[failed["id"]]["attempt_count"] == 2


async def test_a_disputed_payment_sends_the_dispute_after_the_payment(
    http: httpx.AsyncClient, receiver: Receiver, stripe_state: StripeState
) -> None:
    customer = await create_customer(http)
    await post(
        http,
        f"/v1/customers/{customer['id']}",
        {"invoice_settings": {"default_payment_method": "pm_card_createDispute"}},
    )
    invoice = await create_invoice(http, customer["id"], amounts=(2_500,), finalize=True)
    await post(http, f"/v1/invoices/{invoice['id']}/pay", {})

    assert [e["type"] for e in receiver.events] == [
        "invoice.finalized",
        "invoice.paid",
        "charge.dispute.created",
    ]
    paid, dispute = (e["data"]["object"] for e in receiver.events[1:])
    assert (dispute["object"], dispute["amount"], dispute["charge"]) == (
        "dispute",
        2_500,
        paid["charge"],
    )
    assert dispute["status"] == "needs_response"
    assert stripe_state.disputes[dispute["id"]] == dispute


async def test_subscription_and_credit_note_events(
    http: httpx.AsyncClient, receiver: Receiver, stripe_state: StripeState
) -> None:
    customer = await create_customer(http)
    price = await create_price(http, unit_amount=3000)
    subscription = await create_subscription(http, customer["id"], (price["id"], 1))
    receiver.received.clear()

    await post(
        http,
        f"/v1/subscriptions/{subscription['id']}",
        {"items": [{"id": subscription["items"]["data"][0]["id"], "quantity": 2}]},
    )
    await post(http, "/v1/credit_notes", {"invoice": subscription["latest_invoice"], "amount": 10})

    updated, credited = receiver.events
    assert updated["type"] == "customer.subscription.updated"
    assert updated["data"]["object"]["items"]["data"][0]["quantity"] == 2
    assert updated["data"]["previous_attributes"]["items"]["data"][0]["quantity"] == 1
    assert credited["type"] == "credit_note.created"
    assert credited["data"]["object"]["amount"] == 10
    assert [e["id"] for e in stripe_state.events[-2:]] == [updated["id"], credited["id"]]


async def test_renewals_are_sent_without_a_request(
    http: httpx.AsyncClient, receiver: Receiver, stripe_state: StripeState
) -> None:
    customer = await create_customer(http)
    price = await create_price(http, unit_amount=3000)
    await create_subscription(http, customer["id"], (price["id"], 1))
    receiver.received.clear()
    assert isinstance(stripe_state.clock, ManualClock)
    stripe_state.clock.advance(31 * DAY)

    await http.get("/v1/customers")

    assert [e["type"] for e in receiver.events] == [
        "invoice.finalized",
        "invoice.paid",
        "customer.subscription.updated",
    ]
    assert receiver.events[0]["request"] == {"id": None, "idempotency_key": None}


async def test_a_declined_renewal_makes_the_subscription_past_due_until_it_is_paid(
    http: httpx.AsyncClient, receiver: Receiver, stripe_state: StripeState
) -> None:
    customer = await create_customer(http)
    price = await create_price(http, unit_amount=3000)
    subscription = await create_subscription(http, customer["id"], (price["id"], 1))
    declined = {"invoice_settings": {"default_payment_method": "pm_card_chargeCustomerFail"}}
    await post(http, f"/v1/customers/{customer['id']}", declined)
    receiver.received.clear()
    assert isinstance(stripe_state.clock, ManualClock)
    stripe_state.clock.advance(31 * DAY)

    await http.get("/v1/customers")

    assert [e["type"] for e in receiver.events] == [
        "invoice.finalized",
        "invoice.payment_failed",
        "customer.subscription.updated",  # past_due
        "customer.subscription.updated",  # the new period
    ]
    past_due = receiver.events[2]["data"]
    assert (past_due["object"]["status"], past_due["previous_attributes"]) == (
        "past_due",
        {"status": "active"},
    )
    renewal = receiver.events[1]["data"]["object"]["id"]
    assert stripe_state.subscriptions[subscription["id"]]["latest_invoice"] == renewal

    receiver.received.clear()
    await post(
        http,
        f"/v1/customers/{customer['id']}",
        {"invoice_settings": {"default_payment_method": "pm_card_visa"}},
    )
    await post(http, f"/v1/invoices/{renewal}/pay", {})

    assert [e["type"] for e in receiver.events] == [
        "invoice.paid",
        "customer.subscription.updated",
    ]
    assert receiver.events[1]["data"]["object"]["status"] == "active"


async def test_failed_deliveries_are_retried_with_backoff(
    http: httpx.AsyncClient, receiver: Receiver, sleeps: Sleeps, stripe_state: StripeState
) -> None:
    receiver.statuses = [500, 503]
    customer = await create_customer(http)

    await create_invoice(http, customer["id"], finalize=True)

    assert [(a.attempt, a.status) for a in stripe_state.webhook_attempts] == [
        (1, 500),
        (2, 503),
        (3, 200),
    ]
    assert sleeps.delays == list(WEBHOOK_RETRY_DELAYS[:2])
    # Each attempt is signed afresh; the clock stands still here, so with the same t.
    assert len({headers["stripe-signature"] for headers, _ in receiver.received}) == 1


async def test_delivery_gives_up_after_the_bound(
    http: httpx.AsyncClient, receiver: Receiver, sleeps: Sleeps, stripe_state: StripeState
) -> None:
    receiver.statuses = [500] * 10
    customer = await create_customer(http)

    await create_invoice(http, customer["id"], finalize=True)

    assert len(stripe_state.webhook_attempts) == 1 + len(WEBHOOK_RETRY_DELAYS)
    assert sleeps.delays == list(WEBHOOK_RETRY_DELAYS)
    assert len(receiver.statuses) == 10 - 1 - len(WEBHOOK_RETRY_DELAYS)


async def test_endpoints_get_only_the_events_they_want(
    http: httpx.AsyncClient, receiver: Receiver, stripe_state: StripeState
) -> None:
    stripe_state.webhook_endpoints[0] = WebhookEndpoint(
        url=URL, secret=SECRET, app=receiver.app(), enabled_events=frozenset({"invoice.paid"})
    )
    customer = await create_customer(http)

    await create_invoice(http, customer["id"], pay=True)

    assert [e["type"] for e in receiver.events] == ["invoice.paid"]


async def test_an_unreachable_url_is_recorded_as_errors(sleeps: Sleeps) -> None:
    state = StripeState(webhook_retry_delays=(0.5,), webhook_sleep=sleeps)
    endpoint = WebhookEndpoint(url="http://127.0.0.1:9/hooks", secret=SECRET)
    event = {"id": "evt_1", "type": "invoice.paid"}

    delivered = await deliver_event(state, endpoint, event)

    assert delivered is False
    assert [(a.attempt, a.status) for a in state.webhook_attempts] == [(1, None), (2, None)]
    assert all(a.error and "ConnectError" in a.error for a in state.webhook_attempts)
