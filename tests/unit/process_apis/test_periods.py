"""Accounting-period rules: the date a document reaches the ledger on."""

from datetime import date

import pytest

from core.canonical.parties import ClosedPeriodPolicy, PeriodStatus
from core.models.legal_entity import AccountingPeriodRow
from process_apis.legal_entities.errors import ClosedPeriod, PeriodNotDefined
from process_apis.legal_entities.periods import resolve_posting_date


def period(month: int, status: PeriodStatus) -> AccountingPeriodRow:
    ends = (
        date(2026, month + 1, 1).toordinal() - 1 if month < 12 else date(2026, 12, 31).toordinal()
    )
    return AccountingPeriodRow(
        id=f"p{month}",
        starts_on=date(2026, month, 1),
        ends_on=date.fromordinal(ends),
        status=status,
    )


PERIODS = [period(10, PeriodStatus.CLOSED), period(11, PeriodStatus.OPEN)]


def test_an_open_period_keeps_the_date() -> None:
    on = date(2026, 11, 5)
    assert resolve_posting_date(on, periods=PERIODS, policy=ClosedPeriodPolicy.REJECT) == on


def test_a_closed_period_is_refused_or_rolled_by_policy() -> None:
    on = date(2026, 10, 28)
    with pytest.raises(ClosedPeriod):
        resolve_posting_date(on, periods=PERIODS, policy=ClosedPeriodPolicy.REJECT)
    rolled = resolve_posting_date(on, periods=PERIODS, policy=ClosedPeriodPolicy.ROLL_FORWARD)
    assert rolled == date(2026, 11, 1)


def test_a_date_outside_every_period_is_undefined() -> None:
    with pytest.raises(PeriodNotDefined):
        resolve_posting_date(date(2027, 1, 2), periods=PERIODS, policy=ClosedPeriodPolicy.REJECT)
