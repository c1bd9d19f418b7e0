"""customer.created / customer.updated: the canonical customer as it was committed."""

from __future__ import annotations

from core.models.customer import CustomerRow
from events.envelope import CloudEvent
from events.schemas.base import EventData


class CustomerState(EventData):
    id: str
    name: str
    email: str
    legal_entity_id: str
    currency: str
    partner_id: str | None
    status: str
    version: int


class CustomerCreated(CustomerState):
    event_type = "com.ledgergate.customer.created.v1"


class CustomerUpdated(CustomerState):
    event_type = "com.ledgergate.customer.updated.v1"


def customer_event(
    kind: type[CustomerState], customer: CustomerRow, *, correlation_id: str | None = None
) -> CloudEvent:
    """The event of `customer` (flushed, so its version is the committed one)."""
    data = kind.of(customer)
    return data.event(
        subject=customer.id,
        fact=(customer.id, str(customer.version)),
        correlation_id=correlation_id,
        partner_id=customer.partner_id,
    )
