"""order.*: a sales order (an accepted quote) booked in the ERP, held, refused, and its
status kept in sync with the ERP until its service starts."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from core.models.sales_order import SalesOrderRow
from events.envelope import CloudEvent
from events.schemas.base import EventData


class OrderState(EventData):
    id: str
    quote_ref: str
    customer_id: str
    legal_entity_id: str
    status: str
    currency: str
    subtotal: int = Field(description="Net amount of the lines, minor units.")
    service_start: date
    erp_order_number: str | None
    erp_status: str | None
    version: int


class OrderCreated(OrderState):
    """The ERP holds the sales order (credit checked, products mapped)."""

    event_type = "com.ledgergate.order.created.v1"


class OrderHeld(OrderState):
    """The ERP's credit check failed and the order waits for finance (policy `hold`)."""

    event_type = "com.ledgergate.order.held.v1"
    reason: str


class OrderRejected(OrderState):
    """Refused on the customer's credit, or on a mapping the caller can correct."""

    event_type = "com.ledgergate.order.rejected.v1"
    reason: str


class OrderStatusChanged(OrderState):
    """The order moved on: released, in service (its subscriptions ordered), completed or
    canceled in the ERP."""

    event_type = "com.ledgergate.order.status_changed.v1"
    previous_status: str


def order_event(
    kind: type[OrderState],
    order: SalesOrderRow,
    *,
    fact: tuple[str, ...],
    correlation_id: str | None = None,
    partner_id: str | None = None,
    **values: str,
) -> CloudEvent:
    """The event of the order's change; `fact` (a run, or the order's version) makes its id."""
    return kind.of(order, **values).event(
        subject=order.id, fact=fact, correlation_id=correlation_id, partner_id=partner_id
    )
