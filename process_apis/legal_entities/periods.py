"""Accounting-period rules: on which date a document may reach the ledger."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

from core.canonical.parties import ClosedPeriodPolicy, PeriodStatus
from process_apis.legal_entities.errors import ClosedPeriod, PeriodNotDefined


class Period(Protocol):
    """An accounting period: a row, or a legal entity snapshot's copy of one."""

    @property
    def starts_on(self) -> date: ...

    @property
    def ends_on(self) -> date: ...

    @property
    def status(self) -> str: ...


class Calendar(Protocol):
    """A legal entity's periods and closed-period policy: its row, or its snapshot."""

    @property
    def periods(self) -> Sequence[Period]: ...

    @property
    def closed_period_policy(self) -> str: ...


def resolve_posting_date(
    requested: date, *, periods: Sequence[Period], policy: ClosedPeriodPolicy
) -> date:
    """The date to post on: `requested`, or the next open period's first day by policy."""
    period = next((p for p in periods if p.starts_on <= requested <= p.ends_on), None)
    if period is None:
        raise PeriodNotDefined(f"no accounting period of the legal entity covers {requested}")
    if period.status == PeriodStatus.OPEN:
        return requested
    if policy == ClosedPeriodPolicy.REJECT:
        raise ClosedPeriod(
            f"{requested} falls in the closed period {period.starts_on}..{period.ends_on}",
            period_start=period.starts_on.isoformat(),
            period_end=period.ends_on.isoformat(),
            policy=policy.value,
        )
    later_open = (
        p for p in periods if p.starts_on > period.ends_on and p.status == PeriodStatus.OPEN
    )
    next_open = next(later_open, None)
    if next_open is None:
        raise PeriodNotDefined(f"no open accounting period after {period.ends_on}")
    return next_open.starts_on


def posting_date_for(legal_entity: Calendar, requested: date) -> date:
    """`resolve_posting_date` under the legal entity's own periods and policy."""
    return resolve_posting_date(
        requested,
        periods=list(legal_entity.periods),
        policy=ClosedPeriodPolicy(legal_entity.closed_period_policy),
    )
