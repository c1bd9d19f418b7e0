"""entitlement.granted / entitlement.revoked: one per entitlement row and version."""

from __future__ import annotations

from core.models.entitlement import EntitlementRow
from events.envelope import CloudEvent
from events.schemas.base import EventData


class EntitlementState(EventData):
    id: str
    customer_id: str
    subscription_id: str | None
    product_id: str
    feature: str
    tier: str
    status: str
    version: int


class EntitlementGranted(EntitlementState):
    event_type = "com.ledgergate.entitlement.granted.v1"


class EntitlementRevoked(EntitlementState):
    event_type = "com.ledgergate.entitlement.revoked.v1"


def entitlement_event(
    kind: type[EntitlementState], entitlement: EntitlementRow, *, correlation_id: str | None
) -> CloudEvent:
    """The event of `entitlement` as flushed (its version names this change)."""
    return kind.of(entitlement).event(
        subject=entitlement.id,
        fact=(entitlement.id, str(entitlement.version)),
        correlation_id=correlation_id,
    )
