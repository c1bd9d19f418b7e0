"""A customer's dunning state as the APIs show it."""

from __future__ import annotations

from datetime import UTC, datetime, time
from enum import StrEnum

from pydantic import Field

from core.canonical.base import OutputModel
from core.models.dunning import DunningCaseRow, DunningStatus


class AccountDunningStatus(StrEnum):
    NONE = "none"
    DUNNING = "dunning"
    SUSPENDED = "suspended"


class CustomerDunning(OutputModel):
    """Where the customer stands in dunning: `none` (in good standing), `dunning` (a payment
    failed; suspended at `grace_ends_at` unless paid) or `suspended` (until a payment)."""

    status: AccountDunningStatus
    since: datetime | None = Field(
        description="When dunning opened (`dunning`) or the account was suspended (`suspended`)."
    )
    grace_ends_at: datetime | None = Field(
        description="The start of the day (UTC) from which the account is suspended if unpaid."
    )
    case_id: str | None = Field(description="The open dunning case.")

    @classmethod
    def of(cls, case: DunningCaseRow | None) -> CustomerDunning:
        """The state of the customer's open case (none: in good standing)."""
        if case is None or case.status == DunningStatus.CLOSED:
            return cls(
                status=AccountDunningStatus.NONE, since=None, grace_ends_at=None, case_id=None
            )
        suspended = case.status == DunningStatus.SUSPENDED
        return cls(
            status=AccountDunningStatus.SUSPENDED if suspended else AccountDunningStatus.DUNNING,
            since=case.suspended_at if suspended else case.opened_at,
            grace_ends_at=datetime.combine(case.grace_ends_on, time(), tzinfo=UTC),
            case_id=case.id,
        )


class DunningAccount(CustomerDunning):
    """A customer in dunning, as the ops list shows it."""

    customer_id: str
    customer_name: str
    legal_entity_id: str
