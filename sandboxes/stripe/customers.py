"""Customers: create, retrieve, update, list by `email`."""

from __future__ import annotations

import secrets

from sandboxes.stripe.state import StripeState, list_page
from sandboxes.stripe.wire import Call, JsonObject, new_object_id

CUSTOMER_PARAMS = frozenset(
    {"name", "email", "description", "phone", "metadata", "preferred_locales", "invoice_settings"}
)


def _invoice_settings(call: Call, current: JsonObject) -> JsonObject:
    """The customer's `invoice_settings` with the `default_payment_method` sent, if any."""
    settings = call.nested("invoice_settings")
    if settings is None:
        return current
    settings.check_known(frozenset({"default_payment_method"}))
    return {**current, "default_payment_method": settings.string("default_payment_method")}


def create_customer(state: StripeState, call: Call) -> JsonObject:
    call.check_known(CUSTOMER_PARAMS)
    customer: JsonObject = {
        "id": new_object_id("cus"),
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": state.clock(),
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": call.string("description"),
        "discount": None,
        "email": call.string("email"),
        "invoice_prefix": secrets.token_hex(4).upper(),
        "invoice_settings": _invoice_settings(
            call, {"custom_fields": None, "default_payment_method": None, "footer": None}
        ),
        "livemode": False,
        "metadata": call.metadata(),
        "name": call.string("name"),
        "next_invoice_sequence": 1,
        "phone": call.string("phone"),
        "preferred_locales": call.string_list("preferred_locales"),
        "shipping": None,
        "tax_exempt": "none",
    }
    state.customers[customer["id"]] = customer
    return customer


def retrieve_customer(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset())
    return state.customer(call.path["customer"], param="id")


def update_customer(state: StripeState, call: Call) -> JsonObject:
    """Only the parameters sent change; an empty `email`, `phone` or `description` unsets it."""
    call.check_known(CUSTOMER_PARAMS)
    customer = state.customer(call.path["customer"], param="id")
    customer["invoice_settings"] = _invoice_settings(call, customer["invoice_settings"])
    for name in ("name", "email", "description", "phone"):
        if name in call.params:
            customer[name] = call.string(name)
    if "preferred_locales" in call.params:
        customer["preferred_locales"] = call.string_list("preferred_locales")
    customer["metadata"] = call.updated_metadata(customer["metadata"])
    return customer


def list_customers(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset({"email", "limit", "starting_after"}))
    email = call.string("email")
    customers = [c for c in reversed(state.customers.values()) if email in (None, c["email"])]
    return list_page(customers, call, url="/v1/customers", kind="customer")
