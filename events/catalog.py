"""The registry of canonical event types: type → its versioned `data` schema.

The outbox validates every event against it before recording, so nothing leaves the
gateway that its published contract does not describe. A new version of a type is a
new entry (`...v2`) beside the old one, never a change to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from events.envelope import CloudEvent
from events.schemas import (
    account,
    credit_memo,
    customer,
    entitlement,
    exception,
    invoice,
    order,
    payment,
    reconciliation,
    refund,
    revenue,
    settlement,
    subscription,
    usage,
    webhook_endpoint,
)
from events.schemas.base import EventData

SCHEMAS: tuple[type[EventData], ...] = (
    customer.CustomerCreated,
    customer.CustomerUpdated,
    subscription.SubscriptionCreated,
    subscription.SubscriptionAmended,
    subscription.SubscriptionCanceled,
    invoice.InvoiceRegistered,
    invoice.InvoicePosted,
    invoice.InvoicePostingFailed,
    invoice.InvoiceVoided,
    credit_memo.CreditMemoRequested,
    credit_memo.CreditMemoApproved,
    credit_memo.CreditMemoPosted,
    payment.PaymentApplied,
    payment.PaymentFailed,
    payment.PaymentReversed,
    payment.CommissionEarned,
    payment.CommissionClawedBack,
    settlement.SettlementPosted,
    settlement.SettlementReversed,
    revenue.RevenueRecognized,
    revenue.RevenueRecognitionReversed,
    entitlement.EntitlementGranted,
    entitlement.EntitlementRevoked,
    exception.ExceptionOpened,
    exception.ExceptionResolved,
    reconciliation.ReconciliationCompleted,
    webhook_endpoint.WebhookEndpointDisabled,
    usage.UsageCapExceeded,
    usage.UsageReported,
    account.DunningOpened,
    account.DunningClosed,
    account.AccountSuspended,
    account.AccountReactivated,
    refund.RefundBooked,
    refund.DisputeOpened,
    refund.DisputeWon,
    refund.DisputeLost,
    order.OrderCreated,
    order.OrderHeld,
    order.OrderRejected,
    order.OrderStatusChanged,
)

CATALOG: Mapping[str, type[EventData]] = MappingProxyType(
    {schema.event_type: schema for schema in SCHEMAS}
)


class UnknownEventType(LookupError):
    """An event whose type the catalog does not list: a programming error, never input."""


def family(event_type: str) -> str:
    """`invoice` of `com.ledgergate.invoice.posted.v1`."""
    return event_type.split(".")[2]


def action(event_type: str) -> str:
    """`posted` of `com.ledgergate.invoice.posted.v1`."""
    return event_type.split(".")[3]


def validate(event: CloudEvent) -> EventData:
    """The event's `data` checked against its type's schema (raises when it does not fit)."""
    schema = CATALOG.get(event.type)
    if schema is None:
        raise UnknownEventType(f"no schema for event type {event.type}")
    return schema.model_validate(event.data)
