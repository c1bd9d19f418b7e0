"""The scale benchmark settles months the gateway lets it settle."""

from __future__ import annotations

from datetime import date

import pytest

from bench.scale import settled_months
from process_apis.settlements.schemas import period_bounds


@pytest.mark.parametrize(
    "today",
    [date(2026, 1, 1), date(2026, 1, 31), date(2026, 3, 1), date(2026, 12, 6), date(2027, 2, 28)],
)
def test_both_months_have_ended_and_are_settled_oldest_first(today: date) -> None:
    small, large = settled_months(today)
    for month in (small, large):
        _, end = period_bounds(f"{month:%Y-%m}")
        assert month.day == 1
        assert end < today  # a month is settled only once it has ended
    assert small < large  # a later month never takes an earlier unsettled month's commissions
    assert (large.year * 12 + large.month) - (small.year * 12 + small.month) == 1
    assert (today.year * 12 + today.month) - (large.year * 12 + large.month) == 1
