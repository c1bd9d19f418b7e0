"""subscription.created / amended / canceled: the subscription as its run committed it."""

from __future__ import annotations

from core.models.subscription import SubscriptionRow
from core.models.workflow_run import WorkflowRunRow
from events.envelope import CloudEvent
from events.schemas.base import EventData


class SubscriptionState(EventData):
    id: str
    customer_id: str
    price_id: str
    partner_id: str | None
    quantity: int
    status: str
    run_id: str


class SubscriptionCreated(SubscriptionState):
    event_type = "com.ledgergate.subscription.created.v1"


class SubscriptionAmended(SubscriptionState):
    event_type = "com.ledgergate.subscription.amended.v1"


class SubscriptionCanceled(SubscriptionState):
    event_type = "com.ledgergate.subscription.canceled.v1"


def subscription_event(
    kind: type[SubscriptionState], subscription: SubscriptionRow, run: WorkflowRunRow
) -> CloudEvent:
    """The event of the run that changed `subscription`: one per run."""
    data = kind.of(subscription, run_id=run.id)
    return data.event(
        subject=subscription.id,
        fact=(run.id,),
        correlation_id=run.correlation_id,
        partner_id=subscription.partner_id,
    )
