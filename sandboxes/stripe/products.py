"""Products and prices."""

from __future__ import annotations

from sandboxes.stripe.state import StripeState, list_page
from sandboxes.stripe.wire import Call, JsonObject, StripeApiError, currency_param, new_object_id


def product_name(state: StripeState, price: JsonObject) -> str:
    name: str = state.products[price["product"]]["name"]
    return name


def create_product(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset({"name", "description", "active", "metadata", "unit_label", "url"}))
    now = state.clock()
    product: JsonObject = {
        "id": new_object_id("prod"),
        "object": "product",
        "active": call.boolean("active") is not False,
        "created": now,
        "description": call.string("description"),
        "images": [],
        "livemode": False,
        "metadata": call.metadata(),
        "name": call.required_string("name"),
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "unit_label": call.string("unit_label"),
        "updated": now,
        "url": call.string("url"),
    }
    state.products[product["id"]] = product
    return product


def list_products(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset({"active", "limit", "starting_after"}))
    active = call.boolean("active")
    products = [
        product
        for product in reversed(state.products.values())
        if active in (None, product["active"])
    ]
    return list_page(products, call, url="/v1/products", kind="product")


def retrieve_product(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset())
    return state.product(call.path["id"], param="id")


INTERVALS = ("day", "week", "month", "year")
AGGREGATE_USAGE = ("sum", "max", "last_during_period", "last_ever")


def is_metered(price: JsonObject) -> bool:
    recurring = price["recurring"]
    return recurring is not None and recurring["usage_type"] == "metered"


def create_price(state: StripeState, call: Call) -> JsonObject:
    call.check_known(
        frozenset(
            {"currency", "product", "unit_amount", "recurring", "nickname", "metadata", "active"}
        )
    )
    currency = currency_param(call.required_string("currency"), "currency")
    product = state.product(call.required_string("product"), param="product")
    unit_amount = call.integer("unit_amount", minimum=0)
    if unit_amount is None:
        raise StripeApiError(
            400,
            "Missing required param: unit_amount.",
            code="parameter_missing",
            param="unit_amount",
        )
    recurring: JsonObject | None = None
    if (params := call.nested("recurring")) is not None:
        params.check_known(
            frozenset({"interval", "interval_count", "usage_type", "aggregate_usage"})
        )
        interval = params.choice("interval", INTERVALS)
        if interval is None:
            params.required_string("interval")
        interval_count = params.integer("interval_count", minimum=1) or 1
        if interval_count * {"day": 1, "week": 7, "month": 31, "year": 366}[str(interval)] > 1098:
            raise StripeApiError(
                400,
                "The maximum billing interval is 3 years.",
                param=params.name("interval_count"),
            )
        usage_type = params.choice("usage_type", ("licensed", "metered")) or "licensed"
        aggregate_usage = params.choice("aggregate_usage", AGGREGATE_USAGE)
        if aggregate_usage is not None and usage_type != "metered":
            raise StripeApiError(
                400,
                "aggregate_usage can only be set for prices with usage_type=metered.",
                param=params.name("aggregate_usage"),
            )
        recurring = {
            "aggregate_usage": (aggregate_usage or "sum") if usage_type == "metered" else None,
            "interval": interval,
            "interval_count": interval_count,
            "usage_type": usage_type,
        }
    price: JsonObject = {
        "id": new_object_id("price"),
        "object": "price",
        "active": call.boolean("active") is not False,
        "billing_scheme": "per_unit",
        "created": state.clock(),
        "currency": currency,
        "livemode": False,
        "lookup_key": None,
        "metadata": call.metadata(),
        "nickname": call.string("nickname"),
        "product": product["id"],
        "recurring": recurring,
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "one_time" if recurring is None else "recurring",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }
    state.prices[price["id"]] = price
    return price


def retrieve_price(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset())
    return state.price(call.path["price"], param="id")


def list_prices(state: StripeState, call: Call) -> JsonObject:
    call.check_known(
        frozenset({"product", "active", "currency", "type", "limit", "starting_after"})
    )
    product, currency = call.string("product"), call.string("currency")
    active = call.boolean("active")
    type_ = call.choice("type", ("one_time", "recurring"))
    prices = [
        price
        for price in reversed(state.prices.values())
        if product in (None, price["product"])
        and currency in (None, price["currency"])
        and active in (None, price["active"])
        and type_ in (None, price["type"])
    ]
    return list_page(prices, call, url="/v1/prices", kind="price")
