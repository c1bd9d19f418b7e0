"""Subscriptions: create, retrieve, update items with prorations, cancel, renew with the clock."""

from __future__ import annotations

import calendar
import copy
from dataclasses import dataclass
from datetime import UTC, datetime

from sandboxes.stripe.events import emit
from sandboxes.stripe.invoices import (
    collect,
    days_until_due_param,
    line_from_item,
    new_invoice,
    new_invoice_item,
    pending_items,
    store_invoice,
    subscription_line,
)
from sandboxes.stripe.products import is_metered, product_name
from sandboxes.stripe.state import StripeState
from sandboxes.stripe.usage_records import usage_line
from sandboxes.stripe.wire import Call, JsonObject, StripeApiError, new_object_id

MAX_SUBSCRIPTION_ITEMS = 20


def shift(anchor: int, interval: str, count: int, periods: int) -> int:
    """`anchor` moved `periods` billing intervals on, in UTC.

    Months and years keep the anchor's day of the month, clamped to the month's last
    day (an anchor on the 31st bills on 30 April, 28 or 29 February), as Stripe does.
    """
    if interval in ("day", "week"):
        return anchor + periods * count * (86_400 if interval == "day" else 604_800)
    start = datetime.fromtimestamp(anchor, UTC)
    months = start.month - 1 + periods * count * (12 if interval == "year" else 1)
    year, month = start.year + months // 12, months % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return int(start.replace(year=year, month=month, day=day).timestamp())


def next_period_bounds(subscription: JsonObject) -> tuple[int, int]:
    """The billing period after the current one, counted from the cycle anchor."""
    recurring: JsonObject = subscription["items"]["data"][0]["price"]["recurring"]
    anchor, end = subscription["billing_cycle_anchor"], subscription["current_period_end"]
    periods = 1
    while shift(anchor, recurring["interval"], recurring["interval_count"], periods) <= end:
        periods += 1
    return end, shift(anchor, recurring["interval"], recurring["interval_count"], periods)


def prorate(amount: int, *, remaining: int, period: int) -> int:
    """`amount × remaining / period`, to the second, rounded half away from zero."""
    whole, rest = divmod(abs(amount) * remaining, period)
    rounded = whole + (1 if 2 * rest >= period else 0)
    return rounded if amount >= 0 else -rounded


@dataclass(frozen=True)
class ItemChange:
    """One subscription item before and after an update; `None` is absent."""

    item_id: str
    before: JsonObject | None
    after: JsonObject | None


def plan_items(
    state: StripeState, subscription: JsonObject, requested: list[Call], *, now: int
) -> list[ItemChange]:
    """What `items[...]` (or `subscription_items[...]`) would make of the items."""
    if len(requested) > MAX_SUBSCRIPTION_ITEMS:
        raise StripeApiError(400, "You may only specify up to 20 items.", param="items")
    current = {item["id"]: item for item in subscription["items"]["data"]}
    after = dict(current)
    new_items: list[JsonObject] = []
    for params in requested:
        params.check_known(frozenset({"id", "price", "quantity", "deleted", "metadata"}))
        price_id, quantity = params.string("price"), params.integer("quantity", minimum=0)
        price = None if price_id is None else state.price(price_id, param=params.name("price"))
        item_id = params.string("id")
        if item_id is None:
            if price is None:
                params.required_string("price")
            assert price is not None  # `required_string` raised otherwise
            new_items.append(new_item(params, subscription["id"], price, quantity, now=now))
            continue
        if item_id not in current:
            raise StripeApiError(
                400,
                f"No such subscription item: '{item_id}'",
                code="resource_missing",
                param=params.name("id"),
            )
        if params.boolean("deleted"):
            after.pop(item_id, None)
            continue
        item = copy.deepcopy(current[item_id])
        item["price"] = price or item["price"]
        if is_metered(item["price"]):
            _no_quantity(params, quantity)
            item.pop("quantity", None)
        else:
            item["quantity"] = item.get("quantity", 1) if quantity is None else quantity
        item["metadata"] = params.updated_metadata(item["metadata"])
        after[item_id] = item
    items = [*after.values(), *new_items]
    _check_items(items, customer=state.customers[subscription["customer"]])
    if _cycle(items[0]) != _cycle(subscription["items"]["data"][0]):
        # Stripe would restart the billing cycle now; this sandbox keeps cycles fixed.
        raise StripeApiError(
            400,
            "Changing the billing interval of a subscription is not supported by this "
            "sandbox; prices must keep the subscription's interval.",
            param="items",
        )
    changes = [ItemChange(i, current[i], after.get(i)) for i in current]
    return changes + [ItemChange(item["id"], None, item) for item in new_items]


def new_item(
    params: Call, subscription_id: str, price: JsonObject, quantity: int | None, *, now: int
) -> JsonObject:
    """A subscription item; a metered one has no quantity (its usage records count)."""
    item: JsonObject = {
        "id": new_object_id("si"),
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": now,
        "metadata": params.metadata(),
        "price": price,
        "subscription": subscription_id,
        "tax_rates": [],
    }
    if is_metered(price):
        _no_quantity(params, quantity)
    else:
        item["quantity"] = 1 if quantity is None else quantity
    return item


def _no_quantity(params: Call, quantity: int | None) -> None:
    if quantity is not None:
        raise StripeApiError(
            400,
            "Quantity should not be specified where usage_type is `metered`. "
            "Remove quantity from the request.",
            param=params.name("quantity"),
        )


def _cycle(item: JsonObject) -> tuple[str, int]:
    recurring = item["price"]["recurring"]
    return recurring["interval"], recurring["interval_count"]


def _check_items(items: list[JsonObject], *, customer: JsonObject) -> None:
    """Stripe's rules for the items of one subscription."""
    if not items:
        raise StripeApiError(400, "A subscription must have at least one item.", param="items")
    prices = [item["price"] for item in items]
    for price in prices:
        if price["recurring"] is None:
            raise StripeApiError(
                400,
                f"The price specified ({price['id']}) is set to `type=one_time` but this field "
                "only accepts prices with `type=recurring`.",
                param="items",
            )
        if not price["active"]:
            raise StripeApiError(
                400, f"The price specified ({price['id']}) is inactive.", param="items"
            )
    if len({price["id"] for price in prices}) < len(prices):
        raise StripeApiError(
            400, "Cannot add multiple subscription items with the same price.", param="items"
        )
    if (
        len({price["currency"] for price in prices}) > 1
        or len(
            {
                (price["recurring"]["interval"], price["recurring"]["interval_count"])
                for price in prices
            }
        )
        > 1
    ):
        raise StripeApiError(
            400,
            "Currency and interval fields must match across all prices on a subscription.",
            param="items",
        )
    if customer["currency"] not in (None, prices[0]["currency"]):
        raise StripeApiError(
            400,
            f"Customer {customer['id']} already uses {customer['currency']}; a subscription in "
            f"{prices[0]['currency']} cannot be added.",
            param="items",
        )


def proration_items(
    state: StripeState, subscription: JsonObject, changes: list[ItemChange], *, at: int
) -> list[JsonObject]:
    """Unsaved proration invoice items for `changes` made at `at`, to the second.

    The unused time on each item as it was is credited and the remaining time on it
    as it is charged, each over `[at, current_period_end]`; unchanged items are not
    prorated.
    """
    start, end = subscription["current_period_start"], subscription["current_period_end"]
    when = datetime.fromtimestamp(at, UTC).strftime("%d %b %Y")
    items: list[JsonObject] = []
    for change in changes:
        before, after = change.before, change.after
        if (
            before is not None
            and after is not None
            and (before["price"]["id"], before.get("quantity"))
            == (after["price"]["id"], after.get("quantity"))
        ):
            continue
        for side, sign, label in ((before, -1, "Unused"), (after, 1, "Remaining")):
            if side is None or is_metered(side["price"]):
                continue  # usage is billed in arrears, never prorated
            price, quantity = side["price"], side["quantity"]
            amount = prorate(
                sign * price["unit_amount"] * quantity, remaining=end - at, period=end - start
            )
            description = f"{label} time on {quantity} × {product_name(state, price)} after {when}"
            items.append(
                new_invoice_item(
                    state,
                    customer_id=subscription["customer"],
                    amount=amount,
                    currency=price["currency"],
                    quantity=quantity,
                    description=description,
                    period=(at, end),
                    price=price,
                    subscription=(subscription["id"], change.item_id),
                )
            )
    return items


def _items_list(subscription_id: str, items: list[JsonObject]) -> JsonObject:
    return {
        "object": "list",
        "data": items,
        "has_more": False,
        "url": f"/v1/subscription_items?subscription={subscription_id}",
    }


def _invoice_subscription(
    state: StripeState,
    subscription: JsonObject,
    *,
    billing_reason: str,
    period: tuple[int, int],
    used: tuple[int, int] | None = None,
) -> JsonObject | None:
    """Invoice the subscription's pending items, plus its licensed items for `period` on
    a cycle (in advance) and its metered items' usage within `used` (in arrears).

    Stores and collects the invoice; `None` when there is nothing to invoice.
    """
    customer = state.customers[subscription["customer"]]
    pending = pending_items(state, customer["id"], subscription_id=subscription["id"])
    lines = [line_from_item(item) for item in pending]
    items = subscription["items"]["data"]
    if billing_reason in ("subscription_create", "subscription_cycle"):
        lines += [
            subscription_line(state, subscription, item, period)
            for item in items
            if not is_metered(item["price"])
        ]
    if used is not None:
        lines += [
            usage_line(state, subscription, item, used)
            for item in items
            if is_metered(item["price"])
        ]
    if not lines:
        return None
    invoice = new_invoice(
        state,
        customer,
        lines=lines,
        billing_reason=billing_reason,
        subscription=subscription,
        collection_method=subscription["collection_method"],
        days_until_due=subscription["days_until_due"],
        period=period,
    )
    store_invoice(state, invoice, pending)
    subscription["latest_invoice"] = invoice["id"]
    collect(state, invoice)
    return invoice


def advance_subscriptions(state: StripeState) -> None:
    """Bill every period the clock has moved past; end subscriptions set to cancel."""
    now = state.clock()
    for subscription in state.subscriptions.values():
        while subscription["status"] == "active" and subscription["current_period_end"] <= now:
            previous = {
                "current_period_start": subscription["current_period_start"],
                "current_period_end": subscription["current_period_end"],
            }
            if subscription["cancel_at_period_end"]:
                _end(state, subscription, at=subscription["current_period_end"])
                break
            used = (subscription["current_period_start"], subscription["current_period_end"])
            period = next_period_bounds(subscription)
            subscription["current_period_start"], subscription["current_period_end"] = period
            _invoice_subscription(
                state, subscription, billing_reason="subscription_cycle", period=period, used=used
            )
            emit(state, "customer.subscription.updated", subscription, previous)


def _end(state: StripeState, subscription: JsonObject, *, at: int) -> None:
    subscription.update(status="canceled", canceled_at=at, ended_at=at)
    emit(state, "customer.subscription.deleted", subscription)


def create_subscription(state: StripeState, call: Call) -> JsonObject:
    call.check_known(
        frozenset(
            {
                "customer",
                "items",
                "metadata",
                "proration_behavior",
                "collection_method",
                "days_until_due",
                "cancel_at_period_end",
            }
        )
    )
    customer = state.customer(call.required_string("customer"), param="customer")
    requested = call.objects("items")
    if not requested:
        call.required_string("items")
    # Without a backdated start or a billing cycle anchor (not offered here) a new
    # subscription has nothing to prorate; the behaviour is checked and accepted.
    call.choice("proration_behavior", PRORATION_BEHAVIORS)
    collection_method = (
        call.choice("collection_method", ("charge_automatically", "send_invoice"))
        or "charge_automatically"
    )
    days_until_due = days_until_due_param(call, collection_method)
    now = state.clock()
    subscription_id = new_object_id("sub")
    for params in requested:
        params.check_known(frozenset({"price", "quantity", "metadata"}))
    items: list[JsonObject] = [
        new_item(
            params,
            subscription_id,
            state.price(params.required_string("price"), param=params.name("price")),
            params.integer("quantity", minimum=0),
            now=now,
        )
        for params in requested
    ]
    if len(items) > MAX_SUBSCRIPTION_ITEMS:
        raise StripeApiError(400, "You may only specify up to 20 items.", param="items")
    _check_items(items, customer=customer)
    recurring: JsonObject = items[0]["price"]["recurring"]
    period = (now, shift(now, recurring["interval"], recurring["interval_count"], 1))
    subscription: JsonObject = {
        "id": subscription_id,
        "object": "subscription",
        "application_fee_percent": None,
        "automatic_tax": {"enabled": False},
        "billing_cycle_anchor": now,
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": bool(call.boolean("cancel_at_period_end")),
        "canceled_at": None,
        "collection_method": collection_method,
        "created": now,
        "current_period_end": period[1],
        "current_period_start": period[0],
        "customer": customer["id"],
        "days_until_due": days_until_due,
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "discount": None,
        "ended_at": None,
        "items": _items_list(subscription_id, items),
        "latest_invoice": None,
        "livemode": False,
        "metadata": call.metadata(),
        "next_pending_invoice_item_invoice": None,
        "pause_collection": None,
        "payment_settings": {"payment_method_options": None, "payment_method_types": None},
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "start_date": now,
        "status": "active",
        "transfer_data": None,
        "trial_end": None,
        "trial_start": None,
    }
    customer["currency"] = items[0]["price"]["currency"]
    state.subscriptions[subscription_id] = subscription
    _invoice_subscription(state, subscription, billing_reason="subscription_create", period=period)
    return subscription


def retrieve_subscription(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset())
    return state.subscription(call.path["subscription_exposed_id"])


PRORATION_BEHAVIORS = ("create_prorations", "none", "always_invoice")


def proration_date_param(call: Call, key: str, subscription: JsonObject, *, now: int) -> int:
    at = call.integer(key)
    if at is None:
        return now
    if not subscription["current_period_start"] <= at <= subscription["current_period_end"]:
        raise StripeApiError(
            400,
            f"{key} must be within the subscription's current period "
            f"({subscription['current_period_start']}..{subscription['current_period_end']}).",
            param=key,
        )
    return at


def update_subscription(state: StripeState, call: Call) -> JsonObject:
    call.check_known(
        frozenset(
            {"items", "metadata", "proration_behavior", "proration_date", "cancel_at_period_end"}
        )
    )
    subscription = state.live_subscription(call.path["subscription_exposed_id"])
    now = state.clock()
    behavior = call.choice("proration_behavior", PRORATION_BEHAVIORS) or "create_prorations"
    at = proration_date_param(call, "proration_date", subscription, now=now)
    changes = plan_items(state, subscription, call.objects("items"), now=now)
    metadata = call.updated_metadata(subscription["metadata"])
    cancel_at_period_end = call.boolean("cancel_at_period_end")

    previous: JsonObject = {}
    items = [change.after for change in changes if change.after is not None]
    if items != subscription["items"]["data"]:
        previous["items"] = copy.deepcopy(subscription["items"])
        subscription["items"] = _items_list(subscription["id"], items)
    if metadata != subscription["metadata"]:
        previous["metadata"] = subscription["metadata"]
        subscription["metadata"] = metadata
    if (
        cancel_at_period_end is not None
        and cancel_at_period_end != subscription["cancel_at_period_end"]
    ):
        previous["cancel_at_period_end"] = subscription["cancel_at_period_end"]
        subscription["cancel_at_period_end"] = cancel_at_period_end
    if behavior != "none":
        for item in proration_items(state, subscription, changes, at=at):
            state.invoice_items[item["id"]] = item
    if behavior == "always_invoice":
        period = (subscription["current_period_start"], subscription["current_period_end"])
        _invoice_subscription(
            state, subscription, billing_reason="subscription_update", period=period
        )
    if previous:
        emit(state, "customer.subscription.updated", subscription, previous)
    return subscription


def cancel_subscription(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset({"prorate", "invoice_now"}))
    subscription = state.live_subscription(call.path["subscription_exposed_id"])
    now = state.clock()
    if call.boolean("prorate"):
        ended = [ItemChange(item["id"], item, None) for item in subscription["items"]["data"]]
        for item in proration_items(state, subscription, ended, at=now):
            state.invoice_items[item["id"]] = item
    if call.boolean("invoice_now"):
        period = (subscription["current_period_start"], now)
        _invoice_subscription(
            state, subscription, billing_reason="subscription_update", period=period, used=period
        )
    _end(state, subscription, at=now)
    return subscription
