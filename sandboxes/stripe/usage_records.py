"""Usage records of metered subscription items, and the usage line a period's invoice carries.

`POST /v1/subscription_items/{id}/usage_records` (API version 2020-08-27): `action`
`increment` (the default) adds to the record at `timestamp`, `set` replaces it;
`GET .../usage_record_summaries` totals them per billing period. The
timestamp must fall in the subscription's current period (Stripe refuses usage for a
period already invoiced). At renewal the price's `aggregate_usage` turns the period's
records into the quantity billed in arrears.
"""

from __future__ import annotations

from sandboxes.stripe.products import is_metered, product_name
from sandboxes.stripe.state import StripeState, list_page
from sandboxes.stripe.wire import Call, JsonObject, StripeApiError, new_object_id

# Stripe accepts a timestamp this far ahead of its clock (the caller's clock drifts).
FUTURE_SKEW_SECONDS = 300


def _item(state: StripeState, item_id: str) -> tuple[JsonObject, JsonObject]:
    """The subscription item and its live subscription."""
    for subscription in state.subscriptions.values():
        for item in subscription["items"]["data"]:
            if item["id"] == item_id and subscription["status"] != "canceled":
                return item, subscription
    raise StripeApiError(
        404, f"No such subscription item: '{item_id}'", code="resource_missing", param="id"
    )


def create_usage_record(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset({"quantity", "timestamp", "action"}))
    item, subscription = _item(state, call.path["subscription_item"])
    if not is_metered(item["price"]):
        raise StripeApiError(
            400,
            "Usage records can only be created for subscription items with metered prices.",
            param="subscription_item",
        )
    quantity = call.integer("quantity", minimum=0)
    if quantity is None:
        raise StripeApiError(
            400, "Missing required param: quantity.", code="parameter_missing", param="quantity"
        )
    action = call.choice("action", ("increment", "set")) or "increment"
    now = state.clock()
    timestamp = call.integer("timestamp")
    timestamp = now if timestamp is None else timestamp
    if not subscription["current_period_start"] <= timestamp <= now + FUTURE_SKEW_SECONDS:
        raise StripeApiError(
            400,
            "Cannot create the usage record with this timestamp because timestamps must be "
            "after the subscription's last invoice period (or current period start time).",
            param="timestamp",
        )
    records = state.usage_records.setdefault(item["id"], {})
    records[timestamp] = quantity + (records.get(timestamp, 0) if action == "increment" else 0)
    return {
        "id": new_object_id("mbur"),
        "object": "usage_record",
        "livemode": False,
        "quantity": records[timestamp],
        "subscription_item": item["id"],
        "timestamp": timestamp,
    }


def list_usage_record_summaries(state: StripeState, call: Call) -> JsonObject:
    """`GET /v1/subscription_items/{id}/usage_record_summaries`: the item's usage per
    billing period, newest first: the current period (`invoice: null`), then each one
    an invoice billed, with that invoice."""
    call.check_known(frozenset({"limit", "starting_after"}))
    item, subscription = _item(state, call.path["subscription_item"])
    billed = [
        (line["period"]["start"], line["period"]["end"], invoice["id"])
        for invoice in state.invoices.values()
        if invoice["subscription"] == subscription["id"]
        for line in invoice["lines"]["data"]
        if line.get("subscription_item") == item["id"] and is_metered(line["price"])
    ]
    current = (subscription["current_period_start"], subscription["current_period_end"], None)
    summaries = [
        {
            "id": f"sis_{item['id'].removeprefix('si_')}_{start}",
            "object": "usage_record_summary",
            "invoice": invoice_id,
            "livemode": False,
            "period": {"start": start, "end": end},
            "subscription_item": item["id"],
            "total_usage": period_usage(state, item, (start, end)),
        }
        for start, end, invoice_id in reversed([*billed, current])
    ]
    url = f"/v1/subscription_items/{item['id']}/usage_record_summaries"
    return list_page(summaries, call, url=url, kind="usage_record_summary")


def period_usage(state: StripeState, item: JsonObject, period: tuple[int, int]) -> int:
    """The quantity billed for `period`, by the price's `aggregate_usage`."""
    records = state.usage_records.get(item["id"], {})
    aggregate = item["price"]["recurring"]["aggregate_usage"]
    if aggregate == "last_ever":
        before = [at for at in records if at < period[1]]
        return records[max(before)] if before else 0
    within = [records[at] for at in sorted(records) if period[0] <= at < period[1]]
    if not within:
        return 0
    if aggregate == "sum":
        return sum(within)
    if aggregate == "max":
        return max(within)
    return within[-1]  # last_during_period


def usage_line(
    state: StripeState, subscription: JsonObject, item: JsonObject, period: tuple[int, int]
) -> JsonObject:
    """The line billing a metered item's usage within `period`, in arrears."""
    price = item["price"]
    quantity = period_usage(state, item, period)
    return {
        "id": new_object_id("sli"),
        "object": "line_item",
        "amount": price["unit_amount"] * quantity,
        "currency": price["currency"],
        "description": f"{quantity} × {product_name(state, price)} (usage)",
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "livemode": False,
        "metadata": {},
        "period": {"start": period[0], "end": period[1]},
        "price": price,
        "proration": False,
        "quantity": quantity,
        "subscription": subscription["id"],
        "subscription_item": item["id"],
        "tax_amounts": [],
        "tax_rates": [],
        "type": "subscription",
    }
