"""Billing periods from an anchor, and usage quantities kept exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import TypeAdapter, ValidationError

from core.canonical.catalog import BillingInterval
from core.quantity import Quantity, from_micros, to_micros
from process_apis.usage.periods import Period, add_months, period_of

ANCHOR = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)


def test_months_clamp_to_the_month_end_without_drifting() -> None:
    assert add_months(ANCHOR, 1) == datetime(2026, 2, 28, 9, 0, tzinfo=UTC)
    assert add_months(ANCHOR, 2) == datetime(2026, 3, 31, 9, 0, tzinfo=UTC)
    assert add_months(ANCHOR, -2) == datetime(2025, 11, 30, 9, 0, tzinfo=UTC)
    assert add_months(ANCHOR, 12) == datetime(2027, 1, 31, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "start", "end"),
    [
        (ANCHOR, ANCHOR, add_months(ANCHOR, 1)),
        (ANCHOR - timedelta(seconds=1), add_months(ANCHOR, -1), ANCHOR),
        (datetime(2026, 3, 30, tzinfo=UTC), add_months(ANCHOR, 1), add_months(ANCHOR, 2)),
        (datetime(2026, 3, 31, 9, tzinfo=UTC), add_months(ANCHOR, 2), add_months(ANCHOR, 3)),
        (datetime(2024, 6, 1, tzinfo=UTC), add_months(ANCHOR, -20), add_months(ANCHOR, -19)),
    ],
)
def test_the_period_of_an_instant(at: datetime, start: datetime, end: datetime) -> None:
    assert period_of(at, anchor=ANCHOR, interval=BillingInterval.MONTH) == Period(start, end)


def test_yearly_periods() -> None:
    period = period_of(
        datetime(2027, 6, 1, tzinfo=UTC), anchor=ANCHOR, interval=BillingInterval.YEAR
    )
    assert period == Period(add_months(ANCHOR, 12), add_months(ANCHOR, 24))


def test_a_period_is_open_until_its_grace_ends() -> None:
    period = Period(ANCHOR, add_months(ANCHOR, 1))
    grace = timedelta(days=1)
    assert period.open_at(period.end + grace, grace)
    assert not period.open_at(period.end + grace + timedelta(seconds=1), grace)


def test_quantities_are_exact_integers_or_decimal_strings() -> None:
    quantity = TypeAdapter(Quantity)
    assert [to_micros(quantity.validate_python(v)) for v in (3, "12.5", "0.000001")] == [
        3_000_000,
        12_500_000,
        1,
    ]
    assert from_micros(12_500_000) == "12.5"
    assert from_micros(3_000_000) == "3"
    for bad in (1.5, "1.5e3", "-1", -1, "0.0000001", True, 10**13):
        with pytest.raises(ValidationError):
            quantity.validate_python(bad)
