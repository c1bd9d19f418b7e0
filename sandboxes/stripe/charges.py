"""Charges, their refunds and disputes, as Stripe keeps them (API version 2020-08-27).

An invoice paid by card makes a charge (`record_charge`). `POST /v1/refunds` pays all or
part of it back (`charge.refunded`, with the charge and every refund so far); a refund
over what is left of the charge is refused as Stripe does. A dispute (Stripe's test card
`pm_card_createDispute` opens one at once) withdraws the amount and Stripe's fee
(`charge.dispute.created`); `POST /v1/disputes/{id}/close` accepts the loss, and
`decide_dispute` is the card network's decision, which the API cannot make
(`charge.dispute.closed`, `won` or `lost`, sent at once).
"""

from __future__ import annotations

from sandboxes.stripe.events import deliver_events, emit
from sandboxes.stripe.state import StripeState
from sandboxes.stripe.wire import Call, JsonObject, StripeApiError, new_object_id

DISPUTE_FEE = 1500  # Stripe's fee per dispute, in the minor units of USD
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
CLOSED_DISPUTE = ("won", "lost", "warning_closed", "charge_refunded")


def record_charge(state: StripeState, invoice: JsonObject) -> str:
    """The charge that pays the invoice's amount due; its id."""
    charge_id = new_object_id("ch")
    state.charges[charge_id] = {
        "id": charge_id,
        "object": "charge",
        "amount": invoice["amount_due"],
        "amount_refunded": 0,
        "created": state.clock(),
        "currency": invoice["currency"],
        "customer": invoice["customer"],
        "disputed": False,
        "invoice": invoice["id"],
        "livemode": False,
        "paid": True,
        "refunded": False,
        "refunds": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/charges/{charge_id}/refunds",
        },
        "status": "succeeded",
    }
    return charge_id


def refund_charge(
    state: StripeState, charge: JsonObject, amount: int, *, reason: str | None
) -> JsonObject:
    """Pay `amount` of the charge back, and tell (`charge.refunded`)."""
    left = charge["amount"] - charge["amount_refunded"]
    if amount > left:
        raise StripeApiError(
            400,
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
            param="amount",
        )
    refund: JsonObject = {
        "id": new_object_id("re"),
        "object": "refund",
        "amount": amount,
        "charge": charge["id"],
        "created": state.clock(),
        "currency": charge["currency"],
        "metadata": {},
        "reason": reason,
        "status": "succeeded",
    }
    charge["refunds"]["data"].insert(0, refund)
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    emit(state, "charge.refunded", charge)
    return refund


def create_refund(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset({"charge", "amount", "reason", "metadata"}))
    charge_id = call.required_string("charge")
    charge = state.charges.get(charge_id)
    if charge is None:
        raise StripeApiError(
            400, f"No such charge: '{charge_id}'", code="resource_missing", param="charge"
        )
    if charge["disputed"]:
        raise StripeApiError(
            400,
            f"Charge {charge_id} has been charged back; cannot issue a refund.",
            code="charge_disputed",
        )
    amount = call.integer("amount", minimum=1)
    reason = call.choice("reason", REFUND_REASONS)
    return refund_charge(
        state,
        charge,
        charge["amount"] - charge["amount_refunded"] if amount is None else amount,
        reason=reason,
    )


def open_dispute(state: StripeState, charge: JsonObject, *, reason: str = "fraudulent") -> None:
    """The cardholder disputes the charge: its amount and Stripe's fee are withdrawn."""
    charge["disputed"] = True
    dispute: JsonObject = {
        "id": new_object_id("dp"),
        "object": "dispute",
        "amount": charge["amount"] - charge["amount_refunded"],
        "balance_transactions": [
            {
                "id": new_object_id("txn"),
                "object": "balance_transaction",
                "amount": -(charge["amount"] - charge["amount_refunded"]),
                "fee": DISPUTE_FEE,
                "type": "adjustment",
            }
        ],
        "charge": charge["id"],
        "created": state.clock(),
        "currency": charge["currency"],
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {"invoice": charge["invoice"]},
        "payment_intent": None,
        "reason": reason,
        "status": "needs_response",
    }
    state.disputes[dispute["id"]] = dispute
    emit(state, "charge.dispute.created", dispute)


def settle_dispute(state: StripeState, dispute_id: str, *, won: bool) -> JsonObject:
    """The card network's decision: won, the amount comes back (the fee does not)."""
    dispute = _dispute(state, dispute_id)
    if dispute["status"] in CLOSED_DISPUTE:
        raise StripeApiError(400, f"Dispute {dispute_id} is already closed.")
    if won:
        dispute["balance_transactions"].append(
            {
                "id": new_object_id("txn"),
                "object": "balance_transaction",
                "amount": dispute["amount"],
                "fee": 0,
                "type": "adjustment",
            }
        )
    dispute["status"] = "won" if won else "lost"
    emit(state, "charge.dispute.closed", dispute)
    return dispute


async def decide_dispute(state: StripeState, dispute_id: str, *, won: bool) -> JsonObject:
    """The card network closes the dispute; the event is sent to the endpoints now."""
    dispute = settle_dispute(state, dispute_id, won=won)
    events, state.outbox = state.outbox, []
    await deliver_events(state, events)
    return dispute


def close_dispute(state: StripeState, call: Call) -> JsonObject:
    """`POST /v1/disputes/{id}/close`: the merchant accepts the loss."""
    call.check_known(frozenset())
    return settle_dispute(state, call.path["dispute"], won=False)


def retrieve_dispute(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset())
    return _dispute(state, call.path["dispute"])


def retrieve_charge(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset())
    charge = state.charges.get(call.path["charge"])
    if charge is None:
        raise StripeApiError(
            404, f"No such charge: '{call.path['charge']}'", code="resource_missing", param="id"
        )
    return charge


def _dispute(state: StripeState, dispute_id: str) -> JsonObject:
    dispute = state.disputes.get(dispute_id)
    if dispute is None:
        raise StripeApiError(
            404, f"No such dispute: '{dispute_id}'", code="resource_missing", param="dispute"
        )
    return dispute
