"""A Stripe sandbox: the slice of Stripe's API (version 2020-08-27) that Ledgergate uses.

It speaks Stripe's wire format at the API root (`/v1/...`): bearer secret keys
(any `sk_test_...` key; others get Stripe's `401`), form bodies and query strings in
bracket notation, `Idempotency-Key` replay, typed error bodies, cursor lists
(newest first, `limit` and `starting_after`), Stripe-style ids and unix timestamps.
State lives in memory (`StripeState`).

Covered: customers (create, retrieve, update, list by `email`), invoice items (create),
invoices (create from the customer's pending items, finalize, pay, retrieve, list,
upcoming), products (create, retrieve), prices (create, retrieve, list), subscriptions
(create, retrieve, update items with prorations, cancel) and credit notes (create,
preview, retrieve, list). Each operation accepts the documented parameters it
implements and refuses any other as `parameter_unknown`, like Stripe does for a
parameter it does not know. Stripe has no customer currency parameter: a customer's
`currency` is set by its first invoice item or subscription; Ledgergate keeps its
canonical currency in `metadata[currency]`. Payment succeeds unless the customer's
default payment method is one of Stripe's failing test payment methods.

Subscriptions bill in advance for periods counted from their creation (`month` and
`year` keep the day of the month). Changing items prorates the way Stripe documents
it: to the second, the unused time on the old price credited and the remaining time
on the new price charged, as separate `proration: true` invoice items over
`[proration_date, current_period_end]`. A change may not alter the billing interval
(Stripe would restart the cycle; that is not modelled). The clock is
`StripeState.clock`: requests first bill every period it has moved past, so a
`ManualClock` drives renewals.

Collecting an invoice charges the customer's `invoice_settings[default_payment_method]`,
where Stripe's test payment methods decide the outcome (`_charge`). Events
(`invoice.finalized`, `invoice.paid`, `invoice.payment_failed`,
`customer.subscription.updated` and `.deleted`, `credit_note.created`,
`charge.dispute.created`) are kept in `StripeState.events` and, after the
request that caused them is answered, POSTed to each `WebhookEndpoint` with Stripe's
`Stripe-Signature` header, retried with backoff on failure.
"""

from __future__ import annotations

import asyncio
import calendar
import copy
import hashlib
import hmac
import json
import logging
import re
import secrets
import string
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from sandboxes.faults import install_faults

logger = logging.getLogger(__name__)

API_VERSION = "2020-08-27"
ACCOUNT_NAME = "Ledgergate Sandbox"
ACCOUNT_COUNTRY = "US"
DEFAULT_LIST_LIMIT = 10
MAX_LIST_LIMIT = 100
INVOICE_LINES_SHOWN = 10
MAX_SUBSCRIPTION_ITEMS = 20
WEBHOOK_RETRY_DELAYS = (1.0, 5.0, 25.0)
WEBHOOK_TIMEOUT_SECONDS = 10.0
DECLINED_PAYMENT_METHOD = "pm_card_chargeCustomerFail"
DISPUTED_PAYMENT_METHOD = "pm_card_createDispute"

JsonObject = dict[str, Any]
Params = dict[str, Any]

_ID_ALPHABET = string.ascii_letters + string.digits
_KEY_PATTERN = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def new_object_id(prefix: str) -> str:
    """A Stripe-style id: `cus_`, `ii_`, `in_`, `il_`, `req_` and 24 base62 characters."""
    return f"{prefix}_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


def _now() -> int:
    return int(time.time())


class StripeApiError(Exception):
    """A Stripe error answer: `{"error": {"type", "code", "message", "param", ...}}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param

    @property
    def is_parameter_error(self) -> bool:
        """Refused while checking parameters, before the operation ran: never replayed."""
        return self.code is not None and self.code.startswith("parameter_")

    def body(self) -> JsonObject:
        error: JsonObject = {"type": self.type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = "https://stripe.com/docs/error-codes/" + self.code.replace("_", "-")
        if self.param is not None:
            error["param"] = self.param
        return {"error": error}


def decode_form(raw: str) -> Params:
    """Decode a form body or query string in bracket notation into nested values.

    `a[b]=1` nests a dict, `a[]=1` appends to a list, `a[0][b]=1` gives
    `{"a": {"0": {"b": "1"}}}`: whether numbered keys are a list is for the schema of
    the parameter to say. Values stay strings. Conflicting keys raise `StripeApiError`.
    """
    params: Params = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        match = _KEY_PATTERN.match(key)
        if match is None:
            raise StripeApiError(400, f"Invalid parameter name: {key}", param=key)
        path = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        _assign(params, path, value, key)
    return params


def _assign(container: Params, path: list[str], value: str, key: str) -> None:
    head, rest = path[0], path[1:]
    conflict = StripeApiError(400, f"Invalid array or hash for parameter: {key}", param=key)
    if not rest:
        if isinstance(container.get(head), dict | list):
            raise conflict
        container[head] = value
    elif rest == [""]:
        current = container.setdefault(head, [])
        if not isinstance(current, list):
            raise conflict
        current.append(value)
    elif rest[0] == "":
        raise conflict
    else:
        child = container.setdefault(head, {})
        if not isinstance(child, dict):
            raise conflict
        _assign(child, rest, value, key)


# --- parameter readers: Stripe's messages and codes for malformed parameters ----------


@dataclass(frozen=True)
class Call:
    """One decoded request to an operation, with readers that refuse like Stripe does."""

    params: Params
    path: Mapping[str, str] = field(default_factory=dict)
    prefix: str = ""

    def name(self, key: str) -> str:
        """The parameter's full name in errors: `items[0][price]` for a nested reader."""
        return f"{self.prefix}[{key}]" if self.prefix else key

    def check_known(self, allowed: frozenset[str]) -> None:
        for key in self.params:
            if key not in allowed and key != "expand":
                name = self.name(key)
                raise StripeApiError(
                    400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name
                )

    def nested(self, key: str) -> Call | None:
        """A reader for the hash `key[...]`, or None when it was not sent."""
        value = self.params.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, dict):
            raise StripeApiError(400, "Invalid hash", param=self.name(key))
        return Call(value, self.path, prefix=self.name(key))

    def objects(self, key: str) -> list[Call]:
        """Readers for the array of hashes `key[0][...]`, `key[1][...]`, in order."""
        value = self.params.get(key)
        if value is None or value == "":
            return []
        if not isinstance(value, dict) or not all(
            index.isdigit() and isinstance(item, dict) for index, item in value.items()
        ):
            raise StripeApiError(400, "Invalid array", param=self.name(key))
        return [
            Call(value[index], self.path, prefix=f"{self.name(key)}[{index}]")
            for index in sorted(value, key=int)
        ]

    def string(self, key: str, *, required: bool = False) -> str | None:
        value = self.params.get(key)
        name = self.name(key)
        if value is None or value == "":
            if required:
                raise StripeApiError(
                    400, f"Missing required param: {name}.", code="parameter_missing", param=name
                )
            return None
        if not isinstance(value, str):
            raise StripeApiError(400, f"Invalid string: {name}", param=name)
        return value

    def required_string(self, name: str) -> str:
        value = self.string(name, required=True)
        assert value is not None  # `string` raised otherwise
        return value

    def integer(self, key: str, *, minimum: int | None = None) -> int | None:
        value = self.string(key)
        if value is None:
            return None
        if not re.fullmatch(r"-?\d+", value) or (minimum is not None and int(value) < minimum):
            raise StripeApiError(
                400,
                f"Invalid integer: {value}",
                code="parameter_invalid_integer",
                param=self.name(key),
            )
        return int(value)

    def boolean(self, key: str) -> bool | None:
        value = self.string(key)
        if value is None:
            return None
        if value not in ("true", "false"):
            raise StripeApiError(400, f"Invalid boolean: {value}", param=self.name(key))
        return value == "true"

    def choice(self, key: str, choices: tuple[str, ...]) -> str | None:
        value = self.string(key)
        if value is not None and value not in choices:
            name = self.name(key)
            raise StripeApiError(
                400, f"Invalid {name}: must be one of {', '.join(choices)}", param=name
            )
        return value

    def metadata(self) -> dict[str, str]:
        """`metadata[key]=value` pairs; an empty value unsets a key, like on Stripe."""
        value = self.params.get("metadata")
        if value is None or value == "":
            return {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise StripeApiError(400, "Invalid hash", param="metadata")
        return {key: item for key, item in value.items() if item != ""}

    def updated_metadata(self, current: dict[str, str]) -> dict[str, str]:
        """`metadata` on an update: keys merge into `current`, an empty value unsets one."""
        value = self.params.get("metadata")
        if value is None:
            return current
        if value == "":
            return {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise StripeApiError(400, "Invalid hash", param=self.name("metadata"))
        merged = {**current, **value}
        return {key: item for key, item in merged.items() if item != ""}

    def string_list(self, name: str) -> list[str]:
        """`name[]=a&name[]=b` or `name[0]=a&name[1]=b`."""
        value = self.params.get(name)
        if value is None or value == "":
            return []
        if isinstance(value, dict) and all(key.isdigit() for key in value):
            value = [value[key] for key in sorted(value, key=int)]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise StripeApiError(400, "Invalid array", param=name)
        return value


def _currency(value: str, name: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{3}", value):
        raise StripeApiError(400, f"Invalid currency: {value.lower()}", param=name)
    return value.lower()


# --- state ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredResponse:
    """The first answer given for an idempotency key, and what it was given for.

    `body` is a copy: the replay is the answer as first given, whatever the object
    became since.
    """

    endpoint: str
    params: Params
    status: int
    body: JsonObject
    request_id: str


@dataclass
class ManualClock:
    """A clock that moves only when told: `StripeState(clock=ManualClock(1_700_000_000))`."""

    now: int

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: int) -> None:
        self.now += seconds


@dataclass(frozen=True)
class WebhookEndpoint:
    """Where events are sent, signed with `secret`.

    `app` delivers to an ASGI application in process (the request still goes to
    `url`, through httpx's ASGI transport); without it, over the network.
    """

    url: str
    secret: str
    enabled_events: frozenset[str] = frozenset({"*"})
    app: ASGIApp | None = None

    def wants(self, event_type: str) -> bool:
        return "*" in self.enabled_events or event_type in self.enabled_events


@dataclass(frozen=True)
class WebhookAttempt:
    """One delivery attempt: the HTTP status answered, or the transport error."""

    event_id: str
    event_type: str
    url: str
    attempt: int
    status: int | None
    error: str | None


@dataclass(frozen=True)
class RequestContext:
    """The API request an event came from (`null` for events the clock caused)."""

    request_id: str
    idempotency_key: str | None


@dataclass
class StripeState:
    """One sandbox account. Objects are stored as the JSON Stripe would answer with.

    `clock` gives unix seconds; a `ManualClock` lets tests fix proration dates and
    move subscriptions into their next period. `webhook_retry_delays` are the waits
    before each retry of a failed delivery (so at most `1 + len(...)` attempts).
    """

    customers: dict[str, JsonObject] = field(default_factory=dict)
    invoice_items: dict[str, JsonObject] = field(default_factory=dict)
    invoices: dict[str, JsonObject] = field(default_factory=dict)
    products: dict[str, JsonObject] = field(default_factory=dict)
    prices: dict[str, JsonObject] = field(default_factory=dict)
    subscriptions: dict[str, JsonObject] = field(default_factory=dict)
    credit_notes: dict[str, JsonObject] = field(default_factory=dict)
    disputes: dict[str, JsonObject] = field(default_factory=dict)
    events: list[JsonObject] = field(default_factory=list)
    idempotent_responses: dict[tuple[str, str], StoredResponse] = field(default_factory=dict)
    clock: Callable[[], int] = _now
    webhook_endpoints: list[WebhookEndpoint] = field(default_factory=list)
    webhook_retry_delays: tuple[float, ...] = WEBHOOK_RETRY_DELAYS
    webhook_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    webhook_attempts: list[WebhookAttempt] = field(default_factory=list)
    webhook_tasks: set[asyncio.Task[None]] | None = None
    """When set, deliveries run as tasks of their own, kept here until done, instead of
    after the answer within its request: a gateway running this sandbox in process must
    not wait for its own webhook (and its retries) inside a billing call."""
    outbox: list[JsonObject] = field(default_factory=list)
    request: RequestContext | None = None

    def customer(self, customer_id: str, *, param: str) -> JsonObject:
        return _lookup(self.customers, customer_id, "customer", param=param)

    def invoice(self, invoice_id: str, *, param: str = "id") -> JsonObject:
        return _lookup(self.invoices, invoice_id, "invoice", param=param)

    def product(self, product_id: str, *, param: str) -> JsonObject:
        return _lookup(self.products, product_id, "product", param=param)

    def price(self, price_id: str, *, param: str) -> JsonObject:
        return _lookup(self.prices, price_id, "price", param=param)

    def credit_note(self, credit_note_id: str) -> JsonObject:
        return _lookup(self.credit_notes, credit_note_id, "credit note", param="id")

    def subscription(self, subscription_id: str, *, param: str = "id") -> JsonObject:
        return _lookup(self.subscriptions, subscription_id, "subscription", param=param)

    def live_subscription(self, subscription_id: str, *, param: str = "id") -> JsonObject:
        """A subscription that can still change: Stripe treats a canceled one as gone."""
        subscription = self.subscription(subscription_id, param=param)
        if subscription["status"] == "canceled":
            raise StripeApiError(
                404 if param == "id" else 400,
                f"No such subscription: '{subscription_id}'",
                code="resource_missing",
                param=param,
            )
        return subscription


def _lookup(objects: dict[str, JsonObject], object_id: str, kind: str, *, param: str) -> JsonObject:
    found = objects.get(object_id)
    if found is None:
        # A missing object named in the path is 404; one named by a parameter is 400.
        status = 404 if param == "id" else 400
        raise StripeApiError(
            status, f"No such {kind}: '{object_id}'", code="resource_missing", param=param
        )
    return found


def _page(objects: list[JsonObject], call: Call, *, url: str, kind: str) -> JsonObject:
    """One page of `objects` (newest first) after `starting_after`, `limit` long."""
    limit = call.integer("limit")
    if limit is None:
        limit = DEFAULT_LIST_LIMIT
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise StripeApiError(
            400,
            f"This value must be between 1 and {MAX_LIST_LIMIT}.",
            code="parameter_invalid_integer",
            param="limit",
        )
    start = 0
    if (after := call.string("starting_after")) is not None:
        ids = [obj["id"] for obj in objects]
        if after not in ids:
            raise StripeApiError(
                400, f"No such {kind}: '{after}'", code="resource_missing", param="starting_after"
            )
        start = ids.index(after) + 1
    data = objects[start : start + limit]
    return {"object": "list", "data": data, "has_more": start + limit < len(objects), "url": url}


# --- operations ------------------------------------------------------------------------


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
    return _page(customers, call, url="/v1/customers", kind="customer")


def create_invoice_item(state: StripeState, call: Call) -> JsonObject:
    call.check_known(
        frozenset(
            {"customer", "amount", "unit_amount", "quantity", "currency", "description", "metadata"}
        ),
    )
    customer = state.customer(call.required_string("customer"), param="customer")
    amount, unit_amount, quantity = (
        call.integer("amount"),
        call.integer("unit_amount"),
        call.integer("quantity"),
    )
    if amount is not None and unit_amount is not None:
        raise StripeApiError(
            400,
            "You may only specify one of these parameters: amount, unit_amount.",
            param="amount",
        )
    if amount is not None and quantity is not None:
        raise StripeApiError(400, "quantity can only be used with unit_amount.", param="quantity")
    if amount is None and unit_amount is None:
        raise StripeApiError(
            400, "Missing required param: amount.", code="parameter_missing", param="amount"
        )
    if quantity is not None and quantity < 0:
        raise StripeApiError(400, "quantity must be a non-negative integer.", param="quantity")
    if unit_amount is not None:
        quantity = 1 if quantity is None else quantity
        amount = unit_amount * quantity
    else:
        quantity, unit_amount = 1, amount
    assert amount is not None  # the checks above leave one of the two set
    requested = call.string("currency")
    if requested is None and customer["currency"] is None:
        raise StripeApiError(
            400, "Missing required param: currency.", code="parameter_missing", param="currency"
        )
    currency = _currency(requested, "currency") if requested else customer["currency"]
    if customer["currency"] not in (None, currency):
        raise StripeApiError(
            400,
            f"Customer {customer['id']} already uses {customer['currency']}; "
            f"an invoice item in {currency} cannot be added.",
            param="currency",
        )
    now = state.clock()
    item = _invoice_item(
        state,
        customer_id=customer["id"],
        amount=amount,
        currency=currency,
        quantity=quantity,
        description=call.string("description"),
        period=(now, now),
        metadata=call.metadata(),
        unit_amount=unit_amount,
    )
    customer["currency"] = currency
    state.invoice_items[item["id"]] = item
    return item


def _line_from_item(item: JsonObject) -> JsonObject:
    line: JsonObject = {
        "id": new_object_id("il"),
        "object": "line_item",
        "amount": item["amount"],
        "currency": item["currency"],
        "description": item["description"],
        "discount_amounts": [],
        "discountable": item["discountable"],
        "discounts": [],
        "invoice_item": item["id"],
        "livemode": False,
        "metadata": item["metadata"],
        "period": item["period"],
        "price": item["price"],
        "proration": item["proration"],
        "quantity": item["quantity"],
        "subscription": item["subscription"],
        "tax_amounts": [],
        "tax_rates": [],
        "type": "invoiceitem",
    }
    if "subscription_item" in item:
        line["subscription_item"] = item["subscription_item"]
    return line


def _subscription_line(
    state: StripeState, subscription: JsonObject, item: JsonObject, period: tuple[int, int]
) -> JsonObject:
    """The line billing one subscription item for one whole period, in advance."""
    price = item["price"]
    return {
        "id": new_object_id("sli"),
        "object": "line_item",
        "amount": price["unit_amount"] * item["quantity"],
        "currency": price["currency"],
        "description": f"{item['quantity']} × {_product_name(state, price)}",
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "livemode": False,
        "metadata": {},
        "period": {"start": period[0], "end": period[1]},
        "price": price,
        "proration": False,
        "quantity": item["quantity"],
        "subscription": subscription["id"],
        "subscription_item": item["id"],
        "tax_amounts": [],
        "tax_rates": [],
        "type": "subscription",
    }


def _pending_items(
    state: StripeState, customer_id: str, *, subscription_id: str | None = None
) -> list[JsonObject]:
    """Uninvoiced items, newest first: the customer's own and those of `subscription_id`."""
    return [
        item
        for item in reversed(state.invoice_items.values())
        if item["customer"] == customer_id
        and item["invoice"] is None
        and item["subscription"] in (None, subscription_id)
    ]


def _new_invoice(
    state: StripeState,
    customer: JsonObject,
    *,
    lines: list[JsonObject],
    billing_reason: str,
    subscription: JsonObject | None = None,
    collection_method: str = "charge_automatically",
    days_until_due: int | None = None,
    auto_advance: bool = True,
    description: str | None = None,
    metadata: dict[str, str] | None = None,
    period: tuple[int, int] | None = None,
) -> JsonObject:
    """A draft invoice of `lines` (not stored: callers store it or answer it as a preview)."""
    invoice_id = new_object_id("in")
    now = state.clock()
    subtotal = sum(line["amount"] for line in lines)
    period_start, period_end = period or (now, now)
    return {
        "id": invoice_id,
        "object": "invoice",
        "account_country": ACCOUNT_COUNTRY,
        "account_name": ACCOUNT_NAME,
        "account_tax_ids": None,
        "amount_due": subtotal,
        "amount_paid": 0,
        "amount_remaining": subtotal,
        "application_fee_amount": None,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": auto_advance,
        "automatic_tax": {"enabled": False, "status": None},
        "billing_reason": billing_reason,
        "charge": None,
        "collection_method": collection_method,
        "created": now,
        "currency": lines[0]["currency"],
        "custom_fields": None,
        "customer": customer["id"],
        "customer_address": customer["address"],
        "customer_email": customer["email"],
        "customer_name": customer["name"],
        "customer_phone": customer["phone"],
        "customer_shipping": customer["shipping"],
        "customer_tax_exempt": customer["tax_exempt"],
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": description,
        "discount": None,
        "discounts": [],
        "due_date": None if days_until_due is None else now + days_until_due * 86_400,
        "ending_balance": None,
        "footer": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "last_finalization_error": None,
        "lines": {
            "object": "list",
            "data": lines[:INVOICE_LINES_SHOWN],
            "has_more": len(lines) > INVOICE_LINES_SHOWN,
            "url": f"/v1/invoices/{invoice_id}/lines",
        },
        "livemode": False,
        "metadata": metadata or {},
        "next_payment_attempt": None,
        "number": None,
        "on_behalf_of": None,
        "paid": False,
        "paid_out_of_band": False,
        "payment_intent": None,
        "payment_settings": {"payment_method_options": None, "payment_method_types": None},
        "period_end": period_end,
        "period_start": period_start,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": "draft",
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subscription": None if subscription is None else subscription["id"],
        "subtotal": subtotal,
        "tax": None,
        "total": subtotal,
        "total_discount_amounts": [],
        "total_tax_amounts": [],
        "transfer_data": None,
        "webhooks_delivered_at": None,
    }


def _store_invoice(state: StripeState, invoice: JsonObject, items: list[JsonObject]) -> None:
    for item in items:
        item["invoice"] = invoice["id"]
    state.invoices[invoice["id"]] = invoice


def create_invoice(state: StripeState, call: Call) -> JsonObject:
    call.check_known(
        frozenset(
            {
                "customer",
                "collection_method",
                "auto_advance",
                "days_until_due",
                "description",
                "metadata",
            }
        ),
    )
    customer = state.customer(call.required_string("customer"), param="customer")
    collection_method = (
        call.choice("collection_method", ("charge_automatically", "send_invoice"))
        or "charge_automatically"
    )
    days_until_due = _days_until_due(call, collection_method)
    auto_advance = call.boolean("auto_advance")
    metadata = call.metadata()
    description = call.string("description")
    # Without `subscription`, Stripe invoices every pending item of the customer.
    pending = [
        item
        for item in reversed(state.invoice_items.values())
        if item["customer"] == customer["id"] and item["invoice"] is None
    ]
    if not pending:
        raise StripeApiError(
            400, "Nothing to invoice for customer", code="invoice_no_customer_line_items"
        )
    invoice = _new_invoice(
        state,
        customer,
        lines=[_line_from_item(item) for item in pending],
        billing_reason="manual",
        collection_method=collection_method,
        days_until_due=days_until_due,
        auto_advance=True if auto_advance is None else auto_advance,
        description=description,
        metadata=metadata,
    )
    _store_invoice(state, invoice, pending)
    return invoice


def _days_until_due(call: Call, collection_method: str) -> int | None:
    days_until_due = call.integer("days_until_due", minimum=0)
    if collection_method == "send_invoice" and days_until_due is None:
        raise StripeApiError(
            400,
            "Missing required param: days_until_due.",
            code="parameter_missing",
            param="days_until_due",
        )
    if collection_method == "charge_automatically" and days_until_due is not None:
        raise StripeApiError(
            400,
            "Can't set days_until_due when collection_method is charge_automatically.",
            param="days_until_due",
        )
    return days_until_due


def _finalize(state: StripeState, invoice: JsonObject) -> None:
    """Number the invoice and apply the customer's balance (negative: credit) to it."""
    customer = state.customers[invoice["customer"]]
    now = state.clock()
    invoice["number"] = f"{customer['invoice_prefix']}-{customer['next_invoice_sequence']:04d}"
    customer["next_invoice_sequence"] += 1
    applied = invoice["total"] + customer["balance"]
    invoice.update(
        status="open",
        starting_balance=customer["balance"],
        ending_balance=min(0, applied),
        amount_due=max(0, applied),
        amount_remaining=max(0, applied),
    )
    customer["balance"] = min(0, applied)
    invoice["status_transitions"]["finalized_at"] = now
    _emit(state, "invoice.finalized", invoice)
    if invoice["amount_due"] == 0:
        _mark_paid(state, invoice, out_of_band=False)


def _mark_paid(state: StripeState, invoice: JsonObject, *, out_of_band: bool) -> None:
    invoice.update(
        status="paid",
        paid=True,
        paid_out_of_band=out_of_band,
        amount_paid=invoice["amount_due"],
        amount_remaining=0,
    )
    invoice["status_transitions"]["paid_at"] = state.clock()
    if not out_of_band and invoice["amount_due"] > 0:
        invoice["attempted"] = True
        invoice["attempt_count"] += 1
        invoice["charge"] = new_object_id("ch")
    _emit(state, "invoice.paid", invoice)


def _charge(state: StripeState, invoice: JsonObject) -> bool:
    """Charge the customer's default payment method; False when it is declined.

    Stripe's test payment methods decide: `pm_card_chargeCustomerFail` is declined
    (`invoice.payment_failed`, the invoice stays open), `pm_card_createDispute` pays and
    is then disputed (`charge.dispute.created`); any other, or none, pays.
    """
    customer = state.customers[invoice["customer"]]
    method = customer["invoice_settings"]["default_payment_method"]
    if method == DECLINED_PAYMENT_METHOD:
        invoice["attempted"] = True
        invoice["attempt_count"] += 1
        _emit(state, "invoice.payment_failed", invoice)
        return False
    _mark_paid(state, invoice, out_of_band=False)
    if method == DISPUTED_PAYMENT_METHOD and invoice["charge"] is not None:
        _dispute(state, invoice)
    return True


def _dispute(state: StripeState, invoice: JsonObject) -> None:
    """The cardholder disputes the invoice's charge, as Stripe's test card does at once."""
    dispute: JsonObject = {
        "id": new_object_id("dp"),
        "object": "dispute",
        "amount": invoice["amount_paid"],
        "balance_transactions": [],
        "charge": invoice["charge"],
        "created": state.clock(),
        "currency": invoice["currency"],
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {"invoice": invoice["id"]},
        "payment_intent": None,
        "reason": "fraudulent",
        "status": "needs_response",
    }
    state.disputes[dispute["id"]] = dispute
    _emit(state, "charge.dispute.created", dispute)


def _collect(state: StripeState, invoice: JsonObject) -> None:
    """Finalize; charge automatically collected invoices."""
    _finalize(state, invoice)
    if invoice["status"] == "open" and invoice["collection_method"] == "charge_automatically":
        _charge(state, invoice)


def finalize_invoice(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset({"auto_advance"}))
    invoice = state.invoice(call.path["invoice"])
    auto_advance = call.boolean("auto_advance")
    if invoice["status"] != "draft":
        raise StripeApiError(
            400, "This invoice is already finalized, you can't re-finalize a non-draft invoice."
        )
    if auto_advance is not None:
        invoice["auto_advance"] = auto_advance
    _finalize(state, invoice)
    return invoice


def pay_invoice(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset({"paid_out_of_band"}))
    invoice = state.invoice(call.path["invoice"])
    out_of_band = bool(call.boolean("paid_out_of_band"))
    if invoice["status"] == "paid":
        raise StripeApiError(400, "Invoice is already paid")
    if invoice["status"] == "void":
        raise StripeApiError(400, "You cannot pay a void invoice.")
    if invoice["status"] == "draft":
        _finalize(state, invoice)
    if invoice["status"] == "paid":
        return invoice
    if out_of_band:
        _mark_paid(state, invoice, out_of_band=True)
    elif not _charge(state, invoice):
        raise StripeApiError(
            402, "Your card was declined.", type_="card_error", code="card_declined"
        )
    return invoice


def retrieve_invoice(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset())
    return state.invoice(call.path["invoice"])


def list_invoices(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset({"customer", "status", "subscription", "limit", "starting_after"}))
    customer = call.string("customer")
    status = call.choice("status", ("draft", "open", "paid", "uncollectible", "void"))
    subscription = call.string("subscription")
    invoices = [
        invoice
        for invoice in reversed(state.invoices.values())
        if customer in (None, invoice["customer"])
        and status in (None, invoice["status"])
        and subscription in (None, invoice["subscription"])
    ]
    return _page(invoices, call, url="/v1/invoices", kind="invoice")


# --- products and prices -----------------------------------------------------------------


def _product_name(state: StripeState, price: JsonObject) -> str:
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


def retrieve_product(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset())
    return state.product(call.path["id"], param="id")


INTERVALS = ("day", "week", "month", "year")


def create_price(state: StripeState, call: Call) -> JsonObject:
    call.check_known(
        frozenset(
            {"currency", "product", "unit_amount", "recurring", "nickname", "metadata", "active"}
        )
    )
    currency = _currency(call.required_string("currency"), "currency")
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
        params.check_known(frozenset({"interval", "interval_count", "usage_type"}))
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
        recurring = {
            "aggregate_usage": None,
            "interval": interval,
            "interval_count": interval_count,
            "usage_type": params.choice("usage_type", ("licensed",)) or "licensed",
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
    return _page(prices, call, url="/v1/prices", kind="price")


# --- subscriptions ---------------------------------------------------------------------


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


def _next_period(subscription: JsonObject) -> tuple[int, int]:
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


def _plan_items(
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
            item = {
                "id": new_object_id("si"),
                "object": "subscription_item",
                "billing_thresholds": None,
                "created": now,
                "metadata": params.metadata(),
                "price": price,
                "quantity": 1 if quantity is None else quantity,
                "subscription": subscription["id"],
                "tax_rates": [],
            }
            new_items.append(item)
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
        item["quantity"] = item["quantity"] if quantity is None else quantity
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


def _proration_items(
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
            and (before["price"]["id"], before["quantity"])
            == (after["price"]["id"], after["quantity"])
        ):
            continue
        for side, sign, label in ((before, -1, "Unused"), (after, 1, "Remaining")):
            if side is None:
                continue
            price, quantity = side["price"], side["quantity"]
            amount = prorate(
                sign * price["unit_amount"] * quantity, remaining=end - at, period=end - start
            )
            description = f"{label} time on {quantity} × {_product_name(state, price)} after {when}"
            items.append(
                _invoice_item(
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


def _invoice_item(
    state: StripeState,
    *,
    customer_id: str,
    amount: int,
    currency: str,
    quantity: int,
    description: str | None,
    period: tuple[int, int],
    price: JsonObject | None = None,
    subscription: tuple[str, str] | None = None,
    metadata: dict[str, str] | None = None,
    unit_amount: int | None = None,
) -> JsonObject:
    """An invoice item; with `subscription` (its id and item id) a proration item."""
    item: JsonObject = {
        "id": new_object_id("ii"),
        "object": "invoiceitem",
        "amount": amount,
        "currency": currency,
        "customer": customer_id,
        "date": state.clock(),
        "description": description,
        "discountable": subscription is None,
        "discounts": [],
        "invoice": None,
        "livemode": False,
        "metadata": metadata or {},
        "period": {"start": period[0], "end": period[1]},
        "price": price,
        "proration": subscription is not None,
        "quantity": quantity,
        "subscription": None if subscription is None else subscription[0],
        "tax_rates": [],
        "unit_amount": unit_amount,
        "unit_amount_decimal": None if unit_amount is None else str(unit_amount),
    }
    if subscription is not None:
        item["subscription_item"] = subscription[1]
    return item


def _items_list(subscription_id: str, items: list[JsonObject]) -> JsonObject:
    return {
        "object": "list",
        "data": items,
        "has_more": False,
        "url": f"/v1/subscription_items?subscription={subscription_id}",
    }


def _invoice_subscription(
    state: StripeState, subscription: JsonObject, *, billing_reason: str, period: tuple[int, int]
) -> JsonObject | None:
    """Invoice the subscription's pending items, plus its items for `period` on a cycle.

    Stores and collects the invoice; `None` when there is nothing to invoice.
    """
    customer = state.customers[subscription["customer"]]
    pending = _pending_items(state, customer["id"], subscription_id=subscription["id"])
    lines = [_line_from_item(item) for item in pending]
    if billing_reason in ("subscription_create", "subscription_cycle"):
        lines += [
            _subscription_line(state, subscription, item, period)
            for item in subscription["items"]["data"]
        ]
    if not lines:
        return None
    invoice = _new_invoice(
        state,
        customer,
        lines=lines,
        billing_reason=billing_reason,
        subscription=subscription,
        collection_method=subscription["collection_method"],
        days_until_due=subscription["days_until_due"],
        period=period,
    )
    _store_invoice(state, invoice, pending)
    _collect(state, invoice)
    subscription["latest_invoice"] = invoice["id"]
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
            period = _next_period(subscription)
            subscription["current_period_start"], subscription["current_period_end"] = period
            _invoice_subscription(
                state, subscription, billing_reason="subscription_cycle", period=period
            )
            _emit(state, "customer.subscription.updated", subscription, previous)


def _end(state: StripeState, subscription: JsonObject, *, at: int) -> None:
    subscription.update(status="canceled", canceled_at=at, ended_at=at)
    _emit(state, "customer.subscription.deleted", subscription)


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
    days_until_due = _days_until_due(call, collection_method)
    now = state.clock()
    subscription_id = new_object_id("sub")
    for params in requested:
        params.check_known(frozenset({"price", "quantity", "metadata"}))
    items: list[JsonObject] = [
        {
            "id": new_object_id("si"),
            "object": "subscription_item",
            "billing_thresholds": None,
            "created": now,
            "metadata": params.metadata(),
            "price": state.price(params.required_string("price"), param=params.name("price")),
            "quantity": 1 if (q := params.integer("quantity", minimum=0)) is None else q,
            "subscription": subscription_id,
            "tax_rates": [],
        }
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


def _proration_date(call: Call, key: str, subscription: JsonObject, *, now: int) -> int:
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
    at = _proration_date(call, "proration_date", subscription, now=now)
    changes = _plan_items(state, subscription, call.objects("items"), now=now)
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
        for item in _proration_items(state, subscription, changes, at=at):
            state.invoice_items[item["id"]] = item
    if behavior == "always_invoice":
        period = (subscription["current_period_start"], subscription["current_period_end"])
        _invoice_subscription(
            state, subscription, billing_reason="subscription_update", period=period
        )
    if previous:
        _emit(state, "customer.subscription.updated", subscription, previous)
    return subscription


def cancel_subscription(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset({"prorate", "invoice_now"}))
    subscription = state.live_subscription(call.path["subscription_exposed_id"])
    now = state.clock()
    if call.boolean("prorate"):
        ended = [ItemChange(item["id"], item, None) for item in subscription["items"]["data"]]
        for item in _proration_items(state, subscription, ended, at=now):
            state.invoice_items[item["id"]] = item
    if call.boolean("invoice_now"):
        period = (subscription["current_period_start"], now)
        _invoice_subscription(
            state, subscription, billing_reason="subscription_update", period=period
        )
    _end(state, subscription, at=now)
    return subscription


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
    at = _proration_date(call, "subscription_proration_date", subscription, now=now)
    requested = call.objects("subscription_items")
    changes = _plan_items(state, subscription, requested, now=now)
    prorations = (
        _proration_items(state, subscription, changes, at=at)
        if requested and behavior != "none"
        else []
    )
    future = copy.deepcopy(subscription)
    future["items"]["data"] = [change.after for change in changes if change.after is not None]
    next_period = _next_period(subscription)
    items = _pending_items(state, customer["id"], subscription_id=subscription["id"])
    lines = [_line_from_item(item) for item in [*items, *prorations]] + [
        _subscription_line(state, future, item, next_period) for item in future["items"]["data"]
    ]
    period = (subscription["current_period_start"], subscription["current_period_end"])
    invoice = _as_upcoming(
        _new_invoice(
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
    pending = _pending_items(state, customer["id"])
    if not pending:
        raise StripeApiError(
            404,
            f"No upcoming invoices for customer: {customer['id']}",
            code="invoice_upcoming_none",
        )
    lines = [_line_from_item(item) for item in pending]
    return _as_upcoming(
        _new_invoice(state, customer, lines=lines, billing_reason="upcoming"),
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


# --- credit notes ------------------------------------------------------------------------

CREDIT_NOTE_REASONS = ("duplicate", "fraudulent", "order_change", "product_unsatisfactory")


def _credited(state: StripeState, invoice_line_id: str) -> int:
    return sum(
        line["amount"]
        for note in state.credit_notes.values()
        if note["status"] == "issued"
        for line in note["lines"]["data"]
        if line.get("invoice_line_item") == invoice_line_id
    )


def _credit_note_line(state: StripeState, params: Call, invoice: JsonObject) -> JsonObject:
    params.check_known(
        frozenset({"type", "invoice_line_item", "quantity", "amount", "description", "unit_amount"})
    )
    type_ = params.choice("type", ("invoice_line_item", "custom_line_item"))
    if type_ is None:
        params.required_string("type")
    quantity = params.integer("quantity", minimum=1)
    line: JsonObject = {
        "id": new_object_id("cnli"),
        "object": "credit_note_line_item",
        "discount_amount": 0,
        "discount_amounts": [],
        "livemode": False,
        "tax_amounts": [],
        "tax_rates": [],
        "type": type_,
    }
    if type_ == "custom_line_item":
        unit_amount = params.integer("unit_amount", minimum=0)
        if unit_amount is None:
            params.required_string("unit_amount")
        assert unit_amount is not None  # `required_string` raised otherwise
        quantity = quantity or 1
        return line | {
            "amount": unit_amount * quantity,
            "description": params.required_string("description"),
            "quantity": quantity,
            "unit_amount": unit_amount,
            "unit_amount_decimal": str(unit_amount),
        }
    line_id = params.required_string("invoice_line_item")
    invoiced = next((i for i in invoice["lines"]["data"] if i["id"] == line_id), None)
    if invoiced is None:
        raise StripeApiError(
            400,
            f"No such invoice line item: '{line_id}' on invoice {invoice['id']}",
            code="resource_missing",
            param=params.name("invoice_line_item"),
        )
    amount = params.integer("amount", minimum=1)
    if amount is not None and quantity is not None:
        raise StripeApiError(
            400,
            "You may only specify one of these parameters: amount, quantity.",
            code="parameters_exclusive",
            param=params.name("amount"),
        )
    if quantity is not None:
        if quantity > (invoiced["quantity"] or 1) or invoiced["amount"] % (
            invoiced["quantity"] or 1
        ):
            raise StripeApiError(
                400,
                f"quantity must be at most the line's quantity ({invoiced['quantity']}).",
                param=params.name("quantity"),
            )
        amount = invoiced["amount"] // (invoiced["quantity"] or 1) * quantity
    left = invoiced["amount"] - _credited(state, line_id)
    amount = left if amount is None else amount
    if amount > left:
        raise StripeApiError(
            400,
            f"The credit for line {line_id} ({amount}) exceeds what is left to credit on it "
            f"({left}).",
            code="amount_too_large",
            param=params.name("amount"),
        )
    return line | {
        "amount": amount,
        "description": invoiced["description"],
        "invoice_line_item": line_id,
        "quantity": quantity,
        "unit_amount": None,
        "unit_amount_decimal": None,
    }


CREDIT_NOTE_PARAMS = frozenset(
    {
        "invoice",
        "amount",
        "lines",
        "reason",
        "memo",
        "metadata",
        "credit_amount",
        "out_of_band_amount",
    }
)


def _draft_credit_note(state: StripeState, call: Call) -> tuple[JsonObject, JsonObject]:
    """The credit note `call` asks for and its invoice, checked; nothing is changed yet."""
    call.check_known(CREDIT_NOTE_PARAMS)
    invoice = state.invoice(call.required_string("invoice"), param="invoice")
    lines = [_credit_note_line(state, params, invoice) for params in call.objects("lines")]
    amount = call.integer("amount", minimum=1)
    reason = call.choice("reason", CREDIT_NOTE_REASONS)
    credit_amount = call.integer("credit_amount", minimum=0)
    out_of_band_amount = call.integer("out_of_band_amount", minimum=0)
    if invoice["status"] not in ("open", "paid", "uncollectible"):
        raise StripeApiError(
            400,
            f"Credit notes can only be issued for finalized invoices; {invoice['id']} is "
            f"{invoice['status']}.",
            param="invoice",
        )
    if not lines and amount is None:
        raise StripeApiError(
            400,
            "Missing required param: amount or lines.",
            code="parameter_missing",
            param="amount",
        )
    total = sum(line["amount"] for line in lines) if lines else amount
    assert total is not None  # one of them was given
    if lines and amount is not None and amount != total:
        raise StripeApiError(
            400,
            f"The amount ({amount}) must equal the sum of the lines ({total}).",
            param="amount",
        )
    post_payment = invoice["status"] == "paid"
    # What is still owed, before payment; after it, the total (paid in money or from
    # the customer's balance) less what earlier credit notes took off it.
    creditable = (
        invoice["total"]
        - invoice["pre_payment_credit_notes_amount"]
        - invoice["post_payment_credit_notes_amount"]
        if post_payment
        else invoice["amount_remaining"]
    )
    if total > creditable:
        raise StripeApiError(
            400,
            f"The credit note total ({total}) exceeds the amount that can still be credited "
            f"on invoice {invoice['id']} ({creditable}).",
            code="amount_too_large",
            param="amount" if amount is not None else "lines",
        )
    if not post_payment and (credit_amount or out_of_band_amount):
        raise StripeApiError(
            400,
            "credit_amount and out_of_band_amount apply to paid invoices only.",
            param="credit_amount" if credit_amount else "out_of_band_amount",
        )
    if post_payment:
        if credit_amount is None and out_of_band_amount is None:
            credit_amount = total  # by default the credit goes to the customer's balance
        if (credit_amount or 0) + (out_of_band_amount or 0) != total:
            raise StripeApiError(
                400,
                "The sum of credit_amount and out_of_band_amount must equal the credit note "
                f"total ({total}).",
                param="credit_amount",
            )
    note_id = new_object_id("cn")
    sequence = 1 + sum(1 for n in state.credit_notes.values() if n["invoice"] == invoice["id"])
    note: JsonObject = {
        "id": note_id,
        "object": "credit_note",
        "amount": total,
        "created": state.clock(),
        "currency": invoice["currency"],
        "customer": invoice["customer"],
        "customer_balance_transaction": new_object_id("cbtxn") if credit_amount else None,
        "discount_amount": 0,
        "discount_amounts": [],
        "invoice": invoice["id"],
        "lines": {
            "object": "list",
            "data": lines,
            "has_more": False,
            "url": f"/v1/credit_notes/{note_id}/lines",
        },
        "livemode": False,
        "memo": call.string("memo"),
        "metadata": call.metadata(),
        "number": f"{invoice['number']}-CN-{sequence:02d}",
        "out_of_band_amount": out_of_band_amount,
        "pdf": f"https://files.stripe.sandbox/credit_notes/{note_id}/pdf",
        "reason": reason,
        "refund": None,
        "status": "issued",
        "subtotal": total,
        "tax_amounts": [],
        "total": total,
        "type": "post_payment" if post_payment else "pre_payment",
        "voided_at": None,
    }
    return note, invoice


def create_credit_note(state: StripeState, call: Call) -> JsonObject:
    note, invoice = _draft_credit_note(state, call)
    if note["type"] == "pre_payment":
        invoice["pre_payment_credit_notes_amount"] += note["total"]
        invoice["amount_due"] -= note["total"]
        invoice["amount_remaining"] -= note["total"]
    else:
        invoice["post_payment_credit_notes_amount"] += note["total"]
        credited = note["total"] - (note["out_of_band_amount"] or 0)
        state.customers[invoice["customer"]]["balance"] -= credited
    state.credit_notes[note["id"]] = note
    _emit(state, "credit_note.created", note)
    if invoice["status"] != "paid" and invoice["amount_remaining"] == 0:
        _mark_paid(state, invoice, out_of_band=False)
    return note


def preview_credit_note(state: StripeState, call: Call) -> JsonObject:
    return _draft_credit_note(state, call)[0]


def retrieve_credit_note(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset())
    return state.credit_note(call.path["id"])


def list_credit_notes(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset({"invoice", "customer", "limit", "starting_after"}))
    invoice, customer = call.string("invoice"), call.string("customer")
    notes = [
        note
        for note in reversed(state.credit_notes.values())
        if invoice in (None, note["invoice"]) and customer in (None, note["customer"])
    ]
    return _page(notes, call, url="/v1/credit_notes", kind="credit note")


# --- events and webhooks -------------------------------------------------------------------


def _emit(
    state: StripeState,
    event_type: str,
    obj: JsonObject,
    previous_attributes: JsonObject | None = None,
) -> None:
    """Record an event with a snapshot of `obj`; it is sent once the request is answered."""
    data: JsonObject = {"object": copy.deepcopy(obj)}
    if previous_attributes is not None:
        data["previous_attributes"] = copy.deepcopy(previous_attributes)
    request = state.request
    event: JsonObject = {
        "id": new_object_id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": state.clock(),
        "data": data,
        "livemode": False,
        "pending_webhooks": sum(1 for e in state.webhook_endpoints if e.wants(event_type)),
        "request": {
            "id": None if request is None else request.request_id,
            "idempotency_key": None if request is None else request.idempotency_key,
        },
        "type": event_type,
    }
    state.events.append(event)
    state.outbox.append(event)


def signature_header(payload: bytes, secret: str, timestamp: int) -> str:
    """Stripe's `Stripe-Signature`: `t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<payload>">`."""
    signed = str(timestamp).encode() + b"." + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


async def deliver_event(state: StripeState, endpoint: WebhookEndpoint, event: JsonObject) -> bool:
    """POST one event to one endpoint until it answers 2xx, retrying with backoff.

    Each attempt is signed afresh (a new `t`), as Stripe does; every attempt is kept
    in `state.webhook_attempts`.
    """
    payload = json.dumps(event, separators=(",", ":")).encode()
    transport = None if endpoint.app is None else httpx.ASGITransport(app=endpoint.app)
    async with httpx.AsyncClient(transport=transport, timeout=WEBHOOK_TIMEOUT_SECONDS) as client:
        for attempt, delay in enumerate((0.0, *state.webhook_retry_delays), start=1):
            if delay:
                await state.webhook_sleep(delay)
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                "Stripe-Signature": signature_header(payload, endpoint.secret, state.clock()),
            }
            status, error = None, None
            try:
                response = await client.post(endpoint.url, content=payload, headers=headers)
                status = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            state.webhook_attempts.append(
                WebhookAttempt(event["id"], event["type"], endpoint.url, attempt, status, error)
            )
            if status is not None and 200 <= status < 300:
                logger.info(
                    "billing.sandbox.webhook.delivered",
                    extra={"event_id": event["id"], "url": endpoint.url, "attempt": attempt},
                )
                return True
    logger.warning(
        "billing.sandbox.webhook.abandoned",
        extra={"event_id": event["id"], "url": endpoint.url, "attempts": attempt},
    )
    return False


async def deliver_events(state: StripeState, events: list[JsonObject]) -> None:
    """Send `events`, in order, to every endpoint that wants them."""
    for event in events:
        for endpoint in state.webhook_endpoints:
            if endpoint.wants(event["type"]):
                await deliver_event(state, endpoint, event)


# --- HTTP ---------------------------------------------------------------------------

Operation = Callable[[StripeState, Call], JsonObject]


def _authenticate(request: Request) -> str:
    """The secret key of the request; Stripe answers `401 invalid_request_error` without one."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise StripeApiError(
            401,
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth "
            "(e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        )
    if not key.startswith("sk_test_"):
        raise StripeApiError(401, f"Invalid API Key provided: {key[:8]}{'*' * 8}{key[-4:]}")
    return key


def _answer(
    request: Request, status: int, body: JsonObject, request_id: str, **headers: str
) -> Response:
    headers = {
        "Request-Id": request_id,
        "Stripe-Version": request.headers.get("Stripe-Version", API_VERSION),
        **headers,
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _endpoint(operation: Operation) -> Callable[[Request], Awaitable[Response]]:
    """Wrap an operation with authentication, parameter decoding and idempotency.

    Before it runs, subscriptions are billed for the periods the clock has passed;
    the events it caused are sent to the webhook endpoints after the answer.
    """

    async def handle(request: Request) -> Response:
        state: StripeState = request.app.state.stripe
        request_id = new_object_id("req")
        try:
            api_key = _authenticate(request)
            # Stripe's libraries send DELETE parameters in the query; its spec, in a body.
            body = (await request.body()).decode(errors="replace")
            params = decode_form(body if request.method == "POST" or body else request.url.query)
        except StripeApiError as exc:
            return _answer(request, exc.status, exc.body(), request_id)
        advance_subscriptions(state)
        key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        state.request = RequestContext(request_id, key)
        try:
            if key is None:
                response = _run(request, operation, state, params, request_id)
            else:
                scoped_key = (api_key, key)
                response = _run_idempotent(
                    request, operation, state, params, request_id, scoped_key
                )
        finally:
            state.request = None
        events, state.outbox = state.outbox, []
        if events and state.webhook_endpoints:
            if state.webhook_tasks is None:
                response.background = BackgroundTask(deliver_events, state, events)
            else:
                task = asyncio.create_task(deliver_events(state, events))
                state.webhook_tasks.add(task)
                task.add_done_callback(state.webhook_tasks.discard)
        return response

    return handle


def _run(
    request: Request,
    operation: Operation,
    state: StripeState,
    params: Params,
    request_id: str,
    **headers: str,
) -> Response:
    try:
        body = operation(state, Call(params, request.path_params))
    except StripeApiError as exc:
        return _answer(request, exc.status, exc.body(), request_id, **headers)
    return _answer(request, 200, body, request_id, **headers)


def _run_idempotent(
    request: Request,
    operation: Operation,
    state: StripeState,
    params: Params,
    request_id: str,
    scoped_key: tuple[str, str],
) -> Response:
    """Stripe's idempotency: the first result is stored per key and replayed after.

    The same key on another endpoint, or with other parameters, is an
    `idempotency_error`. Requests refused with a `parameter_*` code did not start
    executing, so they are not stored and the key stays free.
    """
    key = scoped_key[1]
    endpoint = f"{request.method} {request.url.path}"
    stored = state.idempotent_responses.get(scoped_key)
    if stored is not None:
        if stored.endpoint != endpoint:
            error = StripeApiError(
                400,
                "Keys for idempotent requests can only be used for the same endpoint they were "
                f"first used for ('{stored.endpoint}' vs '{endpoint}'). Try using a key other "
                f"than '{key}' if you meant to execute a different request.",
                type_="idempotency_error",
            )
        elif stored.params != params:
            error = StripeApiError(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.",
                type_="idempotency_error",
            )
        else:
            return _answer(
                request,
                stored.status,
                stored.body,
                request_id,
                **{
                    "Idempotency-Key": key,
                    "Idempotent-Replayed": "true",
                    "Original-Request": stored.request_id,
                },
            )
        return _answer(request, error.status, error.body(), request_id)
    try:
        status, body = 200, operation(state, Call(params, request.path_params))
    except StripeApiError as exc:
        if exc.is_parameter_error:
            return _answer(request, exc.status, exc.body(), request_id)
        status, body = exc.status, exc.body()
    state.idempotent_responses[scoped_key] = StoredResponse(
        endpoint=endpoint,
        params=params,
        status=status,
        body=copy.deepcopy(body),
        request_id=request_id,
    )
    return _answer(request, status, body, request_id, **{"Idempotency-Key": key})


async def _unrecognized_url(request: Request, _exc: Exception) -> Response:
    """Stripe answers an unknown path or method with a `404 invalid_request_error`."""
    error = StripeApiError(404, f"Unrecognized request URL ({request.method}: {request.url.path}).")
    return _answer(request, error.status, error.body(), new_object_id("req"))


def create_app(state: StripeState | None = None) -> Starlette:
    """The sandbox as an ASGI app; pass a `StripeState` to inspect or seed it."""
    routes = [
        Route("/v1/customers", _endpoint(create_customer), methods=["POST"]),
        Route("/v1/customers", _endpoint(list_customers), methods=["GET"]),
        Route("/v1/customers/{customer}", _endpoint(retrieve_customer), methods=["GET"]),
        Route("/v1/customers/{customer}", _endpoint(update_customer), methods=["POST"]),
        Route("/v1/invoiceitems", _endpoint(create_invoice_item), methods=["POST"]),
        Route("/v1/invoices", _endpoint(create_invoice), methods=["POST"]),
        Route("/v1/invoices", _endpoint(list_invoices), methods=["GET"]),
        Route("/v1/invoices/upcoming", _endpoint(upcoming_invoice), methods=["GET"]),
        Route("/v1/invoices/{invoice}", _endpoint(retrieve_invoice), methods=["GET"]),
        Route("/v1/invoices/{invoice}/finalize", _endpoint(finalize_invoice), methods=["POST"]),
        Route("/v1/invoices/{invoice}/pay", _endpoint(pay_invoice), methods=["POST"]),
        Route("/v1/products", _endpoint(create_product), methods=["POST"]),
        Route("/v1/products/{id}", _endpoint(retrieve_product), methods=["GET"]),
        Route("/v1/prices", _endpoint(create_price), methods=["POST"]),
        Route("/v1/prices", _endpoint(list_prices), methods=["GET"]),
        Route("/v1/prices/{price}", _endpoint(retrieve_price), methods=["GET"]),
        Route("/v1/subscriptions", _endpoint(create_subscription), methods=["POST"]),
        Route(
            "/v1/subscriptions/{subscription_exposed_id}",
            _endpoint(retrieve_subscription),
            methods=["GET"],
        ),
        Route(
            "/v1/subscriptions/{subscription_exposed_id}",
            _endpoint(update_subscription),
            methods=["POST"],
        ),
        Route(
            "/v1/subscriptions/{subscription_exposed_id}",
            _endpoint(cancel_subscription),
            methods=["DELETE"],
        ),
        Route("/v1/credit_notes", _endpoint(create_credit_note), methods=["POST"]),
        Route("/v1/credit_notes", _endpoint(list_credit_notes), methods=["GET"]),
        Route("/v1/credit_notes/preview", _endpoint(preview_credit_note), methods=["GET"]),
        Route("/v1/credit_notes/{id}", _endpoint(retrieve_credit_note), methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _unrecognized_url},
    )
    app.state.stripe = state or StripeState()
    install_faults(app, "billing")  # tests, demos and benchmarks only: see sandboxes.faults
    return app
