"""The sandbox account's state, kept as the JSON Stripe would answer with, and its list pages."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.types import ASGIApp

from sandboxes.stripe.wire import (
    DEFAULT_LIST_LIMIT,
    MAX_LIST_LIMIT,
    WEBHOOK_RETRY_DELAYS,
    Call,
    JsonObject,
    Params,
    StripeApiError,
    unix_now,
)


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
    charges: dict[str, JsonObject] = field(default_factory=dict)
    disputes: dict[str, JsonObject] = field(default_factory=dict)
    usage_records: dict[str, dict[int, int]] = field(default_factory=dict)
    """Per metered subscription item: quantity by usage record timestamp."""
    events: list[JsonObject] = field(default_factory=list)
    idempotent_responses: dict[tuple[str, str], StoredResponse] = field(default_factory=dict)
    clock: Callable[[], int] = unix_now
    webhook_endpoints: list[WebhookEndpoint] = field(default_factory=list)
    webhook_clock: Callable[[], int] | None = None
    """The time deliveries are signed at, when not `clock`: a receiver checks the signature
    against its wall clock, so a simulation that moves `clock` by days signs with this one."""
    webhook_retry_delays: tuple[float, ...] = WEBHOOK_RETRY_DELAYS
    webhook_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    webhook_attempts: list[WebhookAttempt] = field(default_factory=list)
    webhook_tasks: set[asyncio.Task[None]] | None = None
    """When set, deliveries run as tasks of their own, kept here until done, instead of
    after the answer within its request: a gateway running this sandbox in process must
    not wait for its own webhook (and its retries) inside a billing call."""
    outbox: list[JsonObject] = field(default_factory=list)
    test_clock: JsonObject | None = None
    """The test clock the account follows (`sandboxes.stripe.test_clocks`), if made."""
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


def list_page(objects: list[JsonObject], call: Call, *, url: str, kind: str) -> JsonObject:
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
