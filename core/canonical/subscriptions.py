"""Subscriptions and entitlements."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from core.canonical.base import BackendRefs, Versioned
from core.status import StatusMachine


class SubscriptionStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"


SUBSCRIPTION_STATUS = StatusMachine[SubscriptionStatus](
    "subscription",
    {
        SubscriptionStatus.PENDING: frozenset(
            {SubscriptionStatus.ACTIVE, SubscriptionStatus.CANCELED}
        ),
        SubscriptionStatus.ACTIVE: frozenset(
            {SubscriptionStatus.PAST_DUE, SubscriptionStatus.CANCELED}
        ),
        SubscriptionStatus.PAST_DUE: frozenset(
            {SubscriptionStatus.ACTIVE, SubscriptionStatus.CANCELED}
        ),
    },
)


class Subscription(Versioned):
    customer_id: str
    price_id: str
    partner_id: str | None
    quantity: int
    status: SubscriptionStatus
    current_period_start: datetime | None
    current_period_end: datetime | None
    refs: BackendRefs


class EntitlementStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


ENTITLEMENT_STATUS = StatusMachine[EntitlementStatus](
    "entitlement",
    {
        EntitlementStatus.ACTIVE: frozenset(
            {EntitlementStatus.SUSPENDED, EntitlementStatus.REVOKED}
        ),
        EntitlementStatus.SUSPENDED: frozenset(
            {EntitlementStatus.ACTIVE, EntitlementStatus.REVOKED}
        ),
    },
)


class Entitlement(Versioned):
    customer_id: str
    subscription_id: str | None
    product_id: str
    feature: str
    tier: str
    status: EntitlementStatus
