"""The Stripe sandbox's charges: refunds paid back and disputes decided, with their events."""

from __future__ import annotations

import httpx
import pytest

from sandboxes.stripe import StripeState, decide_dispute
from system_apis.billing.adapters.stripe_wire import StripeEvent
from system_apis.billing.mapping import event_from_stripe
from system_apis.billing.schemas import BillingDisputeStatus, BillingEventType
from tests.support.stripe_sandbox import create_customer, create_invoice, post
from tests.system_apis.billing.test_stripe_sandbox_webhooks import (
    Receiver,
    receiver,
    sleeps,
    stripe_state,
)

__all__ = ["receiver", "sleeps", "stripe_state"]


async def paid_invoice(http: httpx.AsyncClient, method: str | None = None) -> dict[str, object]:
    customer = await create_customer(http)
    if method is not None:
        await post(
            http,
            f"/v1/customers/{customer['id']}",
            {"invoice_settings": {"default_payment_method": method}},
        )
    invoice = await create_invoice(http, customer["id"], amounts=(2_500,), finalize=True)
    return await post(http, f"/v1/invoices/{invoice['id']}/pay", {})


async def test_refunds_pay_a_charge_back_in_parts_and_never_more(
    http: httpx.AsyncClient, receiver: Receiver
) -> None:
    paid = await paid_invoice(http)
    charge = (await http.get(f"/v1/charges/{paid['charge']}")).json()
    assert (charge["amount"], charge["invoice"], charge["amount_refunded"]) == (
        2_500,
        paid["id"],
        0,
    )

    first = await post(http, "/v1/refunds", {"charge": paid["charge"], "amount": 1_000})
    rest = await post(http, "/v1/refunds", {"charge": paid["charge"]})
    too_much = await http.post("/v1/refunds", data={"charge": paid["charge"], "amount": "1"})

    assert (first["amount"], rest["amount"]) == (1_000, 1_500)
    assert too_much.status_code == 400
    refunded = [e for e in receiver.events if e["type"] == "charge.refunded"]
    assert len(refunded) == 2
    event = event_from_stripe(StripeEvent.model_validate(refunded[-1]))
    assert event.type == BillingEventType.CHARGE_REFUNDED
    assert event.charge is not None
    assert (event.charge.invoice_id, event.charge.amount_refunded) == (paid["id"], 2_500)
    assert [r.id for r in event.charge.refunds] == [rest["id"], first["id"]]


@pytest.mark.parametrize("won", [True, False])
async def test_a_dispute_is_decided_with_its_fee(
    http: httpx.AsyncClient, receiver: Receiver, stripe_state: StripeState, won: bool
) -> None:
    paid = await paid_invoice(http, "pm_card_createDispute")
    [opened] = [e for e in receiver.events if e["type"] == "charge.dispute.created"]
    dispute = event_from_stripe(StripeEvent.model_validate(opened)).dispute
    assert dispute is not None
    assert (dispute.charge_id, dispute.amount, dispute.fee, dispute.status) == (
        paid["charge"],
        2_500,
        1_500,
        BillingDisputeStatus.OPEN,
    )
    refused = await http.post("/v1/refunds", data={"charge": paid["charge"]})
    assert refused.status_code == 400  # a disputed charge is not refunded

    await decide_dispute(stripe_state, dispute.id, won=won)

    closed = event_from_stripe(StripeEvent.model_validate(receiver.events[-1]))
    assert closed.type == BillingEventType.DISPUTE_CLOSED
    assert closed.dispute is not None
    assert closed.dispute.status == (BillingDisputeStatus.WON if won else BillingDisputeStatus.LOST)
    again = await http.post(f"/v1/disputes/{dispute.id}/close")
    assert again.status_code == 400


async def test_closing_a_dispute_accepts_the_loss(
    http: httpx.AsyncClient, receiver: Receiver
) -> None:
    await paid_invoice(http, "pm_card_createDispute")
    dispute = receiver.events[-1]["data"]["object"]
    closed = await post(http, f"/v1/disputes/{dispute['id']}/close", {})
    assert closed["status"] == "lost"
    assert receiver.events[-1]["type"] == "charge.dispute.closed"
    assert (await http.get("/v1/disputes/dp_unknown")).status_code == 404


async def test_a_credit_note_on_a_paid_invoice_refunds_or_credits_the_balance(
    http: httpx.AsyncClient, receiver: Receiver, stripe_state: StripeState
) -> None:
    paid = await paid_invoice(http)
    refunded = await post(
        http, "/v1/credit_notes", {"invoice": paid["id"], "amount": 1_000, "refund_amount": 1_000}
    )
    credited = await post(
        http, "/v1/credit_notes", {"invoice": paid["id"], "amount": 500, "credit_amount": 500}
    )
    too_much = await http.post(
        "/v1/credit_notes",
        data={"invoice": paid["id"], "amount": "1001", "refund_amount": "1001"},
    )

    charge = stripe_state.charges[str(paid["charge"])]
    assert charge["amount_refunded"] == 1_000
    assert refunded["refund"] == charge["refunds"]["data"][0]["id"]
    assert credited["refund"] is None
    assert stripe_state.customers[str(paid["customer"])]["balance"] == -500
    assert too_much.status_code == 400  # more than the invoice can still be credited
    assert [e["type"] for e in receiver.events][-3:] == [
        "charge.refunded",
        "credit_note.created",
        "credit_note.created",
    ]
