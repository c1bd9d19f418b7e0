"""The CRM's records and the demo estate's channel they start with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from core.ids import PREFIXES
from sandboxes.crm.wire import ChannelError
from sandboxes.json_api import JsonObject

DEMO_PRODUCT_TIERS = ("pro", "enterprise")
RATE_CARDS_SINCE = date(2024, 1, 1)


def demo_ref(kind: str, number: int) -> str:
    """The demo estate's fixed ids (`prt_00000000000000000000000001`)."""
    return f"{PREFIXES[kind]}_{number:026d}"


@dataclass
class Account:
    """A customer account's standing: `active` until suspended (dunning)."""

    customer_ref: str
    status: str = "active"
    status_changed_at: datetime | None = None

    def wire(self) -> JsonObject:
        changed = self.status_changed_at
        return {
            "customerRef": self.customer_ref,
            "status": self.status,
            "statusChangedAt": None if changed is None else changed.isoformat(),
        }


@dataclass
class Partner:
    ref: str
    name: str
    status: str
    tier: str
    commission_plan: str
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def wire(self) -> JsonObject:
        return {
            "partnerRef": self.ref,
            "name": self.name,
            "status": self.status,
            "tier": self.tier,
            "commissionPlan": self.commission_plan,
            "updatedAt": self.updated_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        }


@dataclass
class CommissionPlan:
    code: str
    name: str
    rate_cards: list[JsonObject] = field(default_factory=list)

    def wire(self) -> JsonObject:
        return {"code": self.code, "name": self.name, "rateCards": self.rate_cards}


@dataclass
class Registration:
    id: str
    partner_ref: str
    customer_ref: str
    product_tiers: list[str]
    status: str
    registered_on: date
    expires_on: date
    decided_on: date | None = None
    note: str | None = None

    def status_on(self, today: date) -> str:
        if self.status in ("pending", "approved") and self.expires_on <= today:
            return "expired"
        return self.status

    def wire(self, today: date) -> JsonObject:
        return {
            "id": self.id,
            "partnerRef": self.partner_ref,
            "customerRef": self.customer_ref,
            "productTiers": self.product_tiers,
            "status": self.status_on(today),
            "registeredOn": self.registered_on.isoformat(),
            "decidedOn": self.decided_on.isoformat() if self.decided_on else None,
            "expiresOn": self.expires_on.isoformat(),
            "note": self.note,
        }


@dataclass
class QuoteLine:
    price_ref: str
    quantity: int


@dataclass
class Quote:
    """A quote for a customer: `draft` until the customer accepts it."""

    id: str
    customer_ref: str
    partner_ref: str | None
    service_start: date
    lines: list[QuoteLine]
    status: str = "draft"
    accepted_at: datetime | None = None

    def wire(self) -> JsonObject:
        return {
            "id": self.id,
            "customerRef": self.customer_ref,
            "partnerRef": self.partner_ref,
            "serviceStart": self.service_start.isoformat(),
            "status": self.status,
            "acceptedAt": None if self.accepted_at is None else self.accepted_at.isoformat(),
            "lines": [
                {"priceRef": line.price_ref, "quantity": line.quantity} for line in self.lines
            ],
        }


@dataclass(frozen=True)
class WebhookEndpoint:
    """Where the CRM's events are sent, signed with `secret`; `app` delivers in process."""

    url: str
    secret: str
    app: Any = None


@dataclass
class CrmState:
    """The sandbox's records. `today` is the CRM's clock for expiry and registration dates."""

    partners: dict[str, Partner] = field(default_factory=dict)
    plans: dict[str, CommissionPlan] = field(default_factory=dict)
    registrations: dict[str, Registration] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    quotes: dict[str, Quote] = field(default_factory=dict)
    webhook_endpoints: list[WebhookEndpoint] = field(default_factory=list)
    # Every event recorded; those of a request are sent once it is answered (`outbox`),
    # and each delivery attempt's status kept.
    events: list[JsonObject] = field(default_factory=list)
    outbox: list[JsonObject] = field(default_factory=list)
    webhook_attempts: list[tuple[str, int | None]] = field(default_factory=list)
    idempotent: dict[str, tuple[str, int, JsonObject]] = field(default_factory=dict)
    today: Callable[[], date] = date.today

    def account(self, customer_ref: str) -> Account:
        return self.accounts.setdefault(customer_ref, Account(customer_ref))

    def partner(self, ref: str) -> Partner:
        if ref not in self.partners:
            raise ChannelError(404, "not_found", f"no partner {ref!r}")
        return self.partners[ref]

    def plan(self, code: str) -> CommissionPlan:
        if code not in self.plans:
            raise ChannelError(404, "not_found", f"no commission plan {code!r}")
        return self.plans[code]

    def registration(self, registration_id: str) -> Registration:
        if registration_id not in self.registrations:
            raise ChannelError(404, "not_found", f"no deal registration {registration_id!r}")
        return self.registrations[registration_id]

    def quote(self, quote_id: str) -> Quote:
        if quote_id not in self.quotes:
            raise ChannelError(404, "not_found", f"no quote {quote_id!r}")
        return self.quotes[quote_id]

    def next_registration_id(self) -> str:
        return f"DR-{len(self.registrations) + 1:06d}"


def seeded_state(*, today: Callable[[], date] = date.today) -> CrmState:
    """The demo estate's channel (see the module docstring), relative to `today()`."""
    state = CrmState(today=today)
    day = today()
    for code, name, bps in (
        ("reseller-20", "Reseller 20 %", 2000),
        ("referral-10", "Referral 10 %", 1000),
    ):
        rates = [{"productTier": tier, "rateBps": bps} for tier in DEMO_PRODUCT_TIERS]
        card = {"version": 1, "effectiveFrom": RATE_CARDS_SINCE.isoformat(), "rates": rates}
        state.plans[code] = CommissionPlan(code, name, [card])
    channel = (
        (1, "Northwind Resellers", "gold", "reseller-20", 1),
        (2, "Fabrikam Referrals", "registered", "referral-10", 3),
    )
    for number, name, tier, plan, customer in channel:
        ref = demo_ref("partner", number)
        state.partners[ref] = Partner(ref, name, "active", tier, plan)
        registration_id = state.next_registration_id()
        state.registrations[registration_id] = Registration(
            id=registration_id,
            partner_ref=ref,
            customer_ref=demo_ref("customer", customer),
            product_tiers=list(DEMO_PRODUCT_TIERS),
            status="approved",
            registered_on=day - timedelta(days=400),
            decided_on=day - timedelta(days=399),
            expires_on=day + timedelta(days=365),
        )
    return state
