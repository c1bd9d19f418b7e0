"""dunning.opened / account.suspended / account.reactivated: one per dunning case and change."""

from __future__ import annotations

from datetime import date, datetime

from core.models.dunning import DunningCaseRow
from events.envelope import CloudEvent
from events.schemas.base import EventData


class DunningState(EventData):
    id: str
    customer_id: str
    status: str
    opened_at: datetime
    grace_ends_on: date
    suspended_at: datetime | None
    closed_at: datetime | None
    closed_reason: str | None
    version: int


class DunningOpened(DunningState):
    event_type = "com.ledgergate.dunning.opened.v1"


class DunningClosed(DunningState):
    """Paid during grace: the account was never suspended."""

    event_type = "com.ledgergate.dunning.closed.v1"


class AccountSuspended(DunningState):
    event_type = "com.ledgergate.account.suspended.v1"


class AccountReactivated(DunningState):
    event_type = "com.ledgergate.account.reactivated.v1"


def dunning_event(
    kind: type[DunningState], case: DunningCaseRow, *, correlation_id: str | None = None
) -> CloudEvent:
    """The event of the case's change (its type and the case id make its id)."""
    return kind.of(case).event(
        subject=case.customer_id, fact=(case.id,), correlation_id=correlation_id
    )
