"""The desk's records: entitlements, tickets and service credits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from core.currencies import minor_unit_exponent
from sandboxes.json_api import JsonObject
from sandboxes.support.wire import TIERS, DeskError, instant


@dataclass
class Entitlement:
    id: str
    customer_ref: str
    product_ref: str
    tier: str
    granted_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def wire(self) -> JsonObject:
        return {
            "id": self.id,
            "customer_ref": self.customer_ref,
            "product_ref": self.product_ref,
            "tier": self.tier,
            "state": "active" if self.active else "revoked",
            "granted_at": instant(self.granted_at),
            "revoked_at": instant(self.revoked_at),
        }


@dataclass
class Account:
    """A customer's account at the desk: `active` until suspended (dunning)."""

    customer_ref: str
    status: str = "active"
    status_changed_at: datetime | None = None

    def wire(self) -> JsonObject:
        return {
            "customer_ref": self.customer_ref,
            "status": self.status,
            "status_changed_at": instant(self.status_changed_at),
        }


@dataclass
class Ticket:
    id: str
    requester_ref: str
    subject: str
    description: str | None
    priority: str
    tier: str | None
    created_at: datetime
    first_response_minutes: int
    status: str = "open"
    flags: tuple[str, ...] = ()

    def wire(self) -> JsonObject:
        due = self.created_at + timedelta(minutes=self.first_response_minutes)
        return {
            "id": self.id,
            "requester_ref": self.requester_ref,
            "subject": self.subject,
            "description": self.description,
            "status": self.status,
            "priority": self.priority,
            "entitlement_tier": self.tier,
            "flags": list(self.flags),
            "created_at": instant(self.created_at),
            "sla": {
                "first_response_minutes": self.first_response_minutes,
                "first_response_due_at": instant(due),
            },
        }


@dataclass
class ServiceCredit:
    id: str
    ticket_id: str
    customer_ref: str
    invoice_ref: str
    amount: Decimal
    currency: str
    reason: str
    created_at: datetime
    status: str = "requested"
    decided_at: datetime | None = None
    note: str | None = None

    def wire(self) -> JsonObject:
        exponent = minor_unit_exponent(self.currency)
        return {
            "id": self.id,
            "ticket_id": self.ticket_id,
            "customer_ref": self.customer_ref,
            "invoice_ref": self.invoice_ref,
            "amount": f"{self.amount:.{exponent}f}",
            "currency": self.currency,
            "reason": self.reason,
            "status": self.status,
            "created_at": instant(self.created_at),
            "decided_at": instant(self.decided_at),
            "note": self.note,
        }


@dataclass
class DeskState:
    """The desk's records; `clock` gives the current instant (tests fix it)."""

    entitlements: dict[str, Entitlement] = field(default_factory=dict)
    tickets: dict[str, Ticket] = field(default_factory=dict)
    service_credits: dict[str, ServiceCredit] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    idempotent: dict[str, tuple[str, int, JsonObject]] = field(default_factory=dict)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def entitlement(self, entitlement_id: str) -> Entitlement:
        if entitlement_id not in self.entitlements:
            raise DeskError(404, "not_found", f"no entitlement {entitlement_id!r}")
        return self.entitlements[entitlement_id]

    def ticket(self, ticket_id: str) -> Ticket:
        if ticket_id not in self.tickets:
            raise DeskError(404, "not_found", f"no ticket {ticket_id!r}")
        return self.tickets[ticket_id]

    def service_credit(self, credit_id: str) -> ServiceCredit:
        if credit_id not in self.service_credits:
            raise DeskError(404, "not_found", f"no service credit {credit_id!r}")
        return self.service_credits[credit_id]

    def account(self, customer_ref: str) -> Account:
        """The customer's account (`active` until it is first suspended)."""
        return self.accounts.setdefault(customer_ref, Account(customer_ref))

    def suspended(self, customer_ref: str) -> bool:
        found = self.accounts.get(customer_ref)
        return found is not None and found.status == "suspended"

    def routing_tier(self, customer_ref: str) -> str | None:
        """The requester's highest active entitlement tier; none for a suspended account."""
        if self.suspended(customer_ref):
            return None
        held = {
            e.tier
            for e in self.entitlements.values()
            if e.customer_ref == customer_ref and e.active
        }
        return next((tier for tier in TIERS if tier in held), None)
