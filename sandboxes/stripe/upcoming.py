"""The upcoming invoice: what a subscription (or the customer's pending items) would bill next."""

from __future__ import annotations

import copy

from sandboxes.stripe.invoices import line_from_item, new_invoice, pending_items, subscription_line
from sandboxes.stripe.products import is_metered
from sandboxes.stripe.state import StripeState
from sandboxes.stripe.subscriptions import (
    PRORATION_BEHAVIORS,
    next_period_bounds,
    plan_items,
    proration_date_param,
    proration_items,
)
from sandboxes.stripe.usage_records import usage_line
from sandboxes.stripe.wire import Call, JsonObject, StripeApiError, new_object_id


def upcoming_invoice(state: StripeState, call: Call) -> JsonObject:
    """The next invoice of a subscription, with a proposed change's prorations in it."""
    call.check_known(
        frozenset(
            {
                "customer",
                "subscription",
                "subscription_items",
                "subscription_proration_behavior",
                "subscription_proration_date",
            }
        )
    )
    customer_id, subscription_id = call.string("customer"), call.string("subscription")
    if subscription_id is None and customer_id is None:
        call.required_string("customer")
    subscription = (
        None
        if subscription_id is None
        else state.live_subscription(subscription_id, param="subscription")
    )
    customer = state.customer(customer_id or (subscription or {})["customer"], param="customer")
    if subscription is None:
        active = [
            s
            for s in state.subscriptions.values()
            if s["customer"] == customer["id"] and s["status"] == "active"
        ]
        subscription = min(active, key=lambda s: s["current_period_end"], default=None)
    elif subscription["customer"] != customer["id"]:
        raise StripeApiError(
            400,
            f"The subscription {subscription['id']} does not belong to {customer['id']}.",
            param="subscription",
        )
    if subscription is None:
        return _upcoming_without_subscription(state, customer)

    now = state.clock()
    behavior = call.choice("subscription_proration_behavior", PRORATION_BEHAVIORS)
    at = proration_date_param(call, "subscription_proration_date", subscription, now=now)
    requested = call.objects("subscription_items")
    changes = plan_items(state, subscription, requested, now=now)
    prorations = (
        proration_items(state, subscription, changes, at=at)
        if requested and behavior != "none"
        else []
    )
    future = copy.deepcopy(subscription)
    future["items"]["data"] = [change.after for change in changes if change.after is not None]
    next_period = next_period_bounds(subscription)
    items = pending_items(state, customer["id"], subscription_id=subscription["id"])
    period = (subscription["current_period_start"], subscription["current_period_end"])
    lines = [line_from_item(item) for item in [*items, *prorations]] + [
        usage_line(state, future, item, period)
        if is_metered(item["price"])
        else subscription_line(state, future, item, next_period)
        for item in future["items"]["data"]
    ]
    invoice = _as_upcoming(
        new_invoice(
            state,
            customer,
            lines=lines,
            billing_reason="upcoming",
            subscription=subscription,
            collection_method=subscription["collection_method"],
            period=period,
        ),
        created=period[1],
    )
    if prorations:
        invoice["subscription_proration_date"] = at
    return invoice


def _upcoming_without_subscription(state: StripeState, customer: JsonObject) -> JsonObject:
    pending = pending_items(state, customer["id"])
    if not pending:
        raise StripeApiError(
            404,
            f"No upcoming invoices for customer: {customer['id']}",
            code="invoice_upcoming_none",
        )
    lines = [line_from_item(item) for item in pending]
    return _as_upcoming(
        new_invoice(state, customer, lines=lines, billing_reason="upcoming"),
        created=state.clock(),
    )


def _as_upcoming(invoice: JsonObject, *, created: int) -> JsonObject:
    """A draft made a preview: Stripe's upcoming invoice has no id and cannot be acted on."""
    del invoice["id"]
    for line in invoice["lines"]["data"]:
        line["id"] = new_object_id("il_tmp")
    invoice["lines"]["url"] = "/v1/invoices/upcoming/lines"
    invoice["created"] = created
    invoice["next_payment_attempt"] = created
    return invoice
