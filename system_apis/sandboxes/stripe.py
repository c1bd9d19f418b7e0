"""A Stripe sandbox: the slice of Stripe's API (version 2020-08-27) that Ledgergate uses.

It speaks Stripe's wire format at the API root (`/v1/...`): bearer secret keys
(any `sk_test_...` key; others get Stripe's `401`), form bodies and query strings in
bracket notation, `Idempotency-Key` replay, typed error bodies, cursor lists
(newest first, `limit` and `starting_after`), Stripe-style ids and unix timestamps.
State lives in memory (`StripeState`).

Covered: customers (create, retrieve, list by `email`), invoice items (create),
invoices (create from the customer's pending items, finalize, pay, retrieve, list by
`customer` and `status`). Each operation accepts the documented parameters it
implements and refuses any other as `parameter_unknown`, like Stripe does for a
parameter it does not know. Stripe has no customer currency parameter: a customer's
`currency` is set by its first invoice item; Ledgergate keeps its canonical currency
in `metadata[currency]`. Paying always succeeds: there are no payment methods here.
"""

from __future__ import annotations

import copy
import re
import secrets
import string
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from system_apis.faults import install_faults

API_VERSION = "2020-08-27"
ACCOUNT_NAME = "Ledgergate Sandbox"
ACCOUNT_COUNTRY = "US"
DEFAULT_LIST_LIMIT = 10
MAX_LIST_LIMIT = 100
INVOICE_LINES_SHOWN = 10

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

    def check_known(self, allowed: frozenset[str]) -> None:
        for name in self.params:
            if name not in allowed and name != "expand":
                raise StripeApiError(
                    400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name
                )

    def string(self, name: str, *, required: bool = False) -> str | None:
        value = self.params.get(name)
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

    def integer(self, name: str) -> int | None:
        value = self.string(name)
        if value is None:
            return None
        if not re.fullmatch(r"-?\d+", value):
            raise StripeApiError(
                400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=name
            )
        return int(value)

    def boolean(self, name: str) -> bool | None:
        value = self.string(name)
        if value is None:
            return None
        if value not in ("true", "false"):
            raise StripeApiError(400, f"Invalid boolean: {value}", param=name)
        return value == "true"

    def choice(self, name: str, choices: tuple[str, ...]) -> str | None:
        value = self.string(name)
        if value is not None and value not in choices:
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
class StripeState:
    """One sandbox account. Objects are stored as the JSON Stripe would answer with."""

    customers: dict[str, JsonObject] = field(default_factory=dict)
    invoice_items: dict[str, JsonObject] = field(default_factory=dict)
    invoices: dict[str, JsonObject] = field(default_factory=dict)
    idempotent_responses: dict[tuple[str, str], StoredResponse] = field(default_factory=dict)
    clock: Callable[[], int] = _now

    def customer(self, customer_id: str, *, param: str) -> JsonObject:
        return _lookup(self.customers, customer_id, "customer", param=param)

    def invoice(self, invoice_id: str) -> JsonObject:
        return _lookup(self.invoices, invoice_id, "invoice", param="id")


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


def create_customer(state: StripeState, call: Call) -> JsonObject:
    call.check_known(
        frozenset({"name", "email", "description", "phone", "metadata", "preferred_locales"}),
    )
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
        "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None},
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
    item: JsonObject = {
        "id": new_object_id("ii"),
        "object": "invoiceitem",
        "amount": amount,
        "currency": currency,
        "customer": customer["id"],
        "date": now,
        "description": call.string("description"),
        "discountable": True,
        "discounts": [],
        "invoice": None,
        "livemode": False,
        "metadata": call.metadata(),
        "period": {"start": now, "end": now},
        "price": None,
        "proration": False,
        "quantity": quantity,
        "subscription": None,
        "tax_rates": [],
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }
    customer["currency"] = currency
    state.invoice_items[item["id"]] = item
    return item


def _line_from_item(item: JsonObject) -> JsonObject:
    return {
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
        "price": None,
        "proration": False,
        "quantity": item["quantity"],
        "subscription": None,
        "tax_amounts": [],
        "tax_rates": [],
        "type": "invoiceitem",
    }


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
    days_until_due = call.integer("days_until_due")
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
    auto_advance = call.boolean("auto_advance")
    metadata = call.metadata()
    description = call.string("description")
    pending = [
        item
        for item in state.invoice_items.values()
        if item["customer"] == customer["id"] and item["invoice"] is None
    ]
    if not pending:
        raise StripeApiError(
            400, "Nothing to invoice for customer", code="invoice_no_customer_line_items"
        )
    invoice_id = new_object_id("in")
    now = state.clock()
    lines = [_line_from_item(item) for item in reversed(pending)]
    subtotal = sum(item["amount"] for item in pending)
    invoice: JsonObject = {
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
        "auto_advance": True if auto_advance is None else auto_advance,
        "automatic_tax": {"enabled": False, "status": None},
        "billing_reason": "manual",
        "charge": None,
        "collection_method": collection_method,
        "created": now,
        "currency": pending[0]["currency"],
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
        "metadata": metadata,
        "next_payment_attempt": None,
        "number": None,
        "on_behalf_of": None,
        "paid": False,
        "paid_out_of_band": False,
        "payment_intent": None,
        "payment_settings": {"payment_method_options": None, "payment_method_types": None},
        "period_end": now,
        "period_start": now,
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
        "subscription": None,
        "subtotal": subtotal,
        "tax": None,
        "total": subtotal,
        "total_discount_amounts": [],
        "total_tax_amounts": [],
        "transfer_data": None,
        "webhooks_delivered_at": None,
    }
    for item in pending:
        item["invoice"] = invoice_id
    state.invoices[invoice_id] = invoice
    return invoice


def _finalize(state: StripeState, invoice: JsonObject) -> None:
    customer = state.customers[invoice["customer"]]
    now = state.clock()
    invoice["number"] = f"{customer['invoice_prefix']}-{customer['next_invoice_sequence']:04d}"
    customer["next_invoice_sequence"] += 1
    invoice["status"] = "open"
    invoice["ending_balance"] = 0
    invoice["status_transitions"]["finalized_at"] = now
    if invoice["amount_due"] == 0:
        _mark_paid(invoice, now=now, out_of_band=False)


def _mark_paid(invoice: JsonObject, *, now: int, out_of_band: bool) -> None:
    invoice.update(
        status="paid",
        paid=True,
        paid_out_of_band=out_of_band,
        amount_paid=invoice["amount_due"],
        amount_remaining=0,
    )
    invoice["status_transitions"]["paid_at"] = now
    if not out_of_band and invoice["amount_due"] > 0:
        invoice["attempted"] = True
        invoice["attempt_count"] += 1


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
    if invoice["status"] != "paid":
        _mark_paid(invoice, now=state.clock(), out_of_band=out_of_band)
    return invoice


def retrieve_invoice(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset())
    return state.invoice(call.path["invoice"])


def list_invoices(state: StripeState, call: Call) -> JsonObject:
    call.check_known(frozenset({"customer", "status", "limit", "starting_after"}))
    customer = call.string("customer")
    status = call.choice("status", ("draft", "open", "paid", "uncollectible", "void"))
    invoices = [
        invoice
        for invoice in reversed(state.invoices.values())
        if customer in (None, invoice["customer"]) and status in (None, invoice["status"])
    ]
    return _page(invoices, call, url="/v1/invoices", kind="invoice")


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
    """Wrap an operation with authentication, parameter decoding and idempotency."""

    async def handle(request: Request) -> Response:
        state: StripeState = request.app.state.stripe
        request_id = new_object_id("req")
        try:
            api_key = _authenticate(request)
            raw = (
                (await request.body()).decode(errors="replace")
                if request.method == "POST"
                else request.url.query
            )
            params = decode_form(raw)
        except StripeApiError as exc:
            return _answer(request, exc.status, exc.body(), request_id)
        key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        if key is None:
            return _run(request, operation, state, params, request_id)
        return _run_idempotent(request, operation, state, params, request_id, (api_key, key))

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
        Route("/v1/invoiceitems", _endpoint(create_invoice_item), methods=["POST"]),
        Route("/v1/invoices", _endpoint(create_invoice), methods=["POST"]),
        Route("/v1/invoices", _endpoint(list_invoices), methods=["GET"]),
        Route("/v1/invoices/{invoice}", _endpoint(retrieve_invoice), methods=["GET"]),
        Route("/v1/invoices/{invoice}/finalize", _endpoint(finalize_invoice), methods=["POST"]),
        Route("/v1/invoices/{invoice}/pay", _endpoint(pay_invoice), methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _unrecognized_url},
    )
    app.state.stripe = state or StripeState()
    install_faults(app)  # tests and benchmarks only: see system_apis.faults
    return app
