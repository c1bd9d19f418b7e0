"""Revenue schedule arithmetic: ratable daily splits that add up, and prospective re-plans."""

from __future__ import annotations

from datetime import date

import pytest

from core.models.revenue import RecognitionMethod
from process_apis.revenue.plan import days_by_month, largest_remainder, plan, replan

RATABLE, POINT = RecognitionMethod.RATABLE_DAILY, RecognitionMethod.POINT_IN_TIME


def test_largest_remainder_gives_the_leftover_cents_to_the_largest_fractions() -> None:
    # 100 over 3 equal weights: 33.33 each, the one leftover cent to the earliest
    assert largest_remainder(100, [1, 1, 1]) == [34, 33, 33]
    # 10 over 1:2:3 → 1.67, 3.33, 5 → 1, 3, 5 with one cent left for the .67
    assert largest_remainder(10, [1, 2, 3]) == [2, 3, 5]
    assert largest_remainder(-100, [1, 1, 1]) == [-34, -33, -33]
    with pytest.raises(ValueError, match="positive sum"):
        largest_remainder(1, [0, 0])


@pytest.mark.parametrize("amount", [1, 99, 100_000, 123_457, 999_999_999])
def test_a_ratable_plan_adds_up_to_the_amount_for_any_period(amount: int) -> None:
    months = plan(amount, date(2026, 1, 17), date(2027, 1, 16), RATABLE)
    assert sum(months.values()) == amount
    assert list(months) == [date(2026 + (m > 12), (m - 1) % 12 + 1, 1) for m in range(1, 14)]


def test_a_ratable_plan_follows_the_days_of_each_month() -> None:
    # February 2026 (28 days) and March (31) of a 59-day period billed 5900
    assert plan(5900, date(2026, 2, 1), date(2026, 3, 31), RATABLE) == {
        date(2026, 2, 1): 2800,
        date(2026, 3, 1): 3100,
    }
    assert days_by_month(date(2026, 1, 31), date(2026, 2, 1)) == {
        date(2026, 1, 1): 1,
        date(2026, 2, 1): 1,
    }


def test_a_point_in_time_charge_is_earned_in_the_month_its_service_starts() -> None:
    assert plan(25000, date(2026, 3, 9), date(2026, 3, 9), POINT) == {date(2026, 3, 1): 25000}


def test_a_credit_re_plans_only_the_months_left() -> None:
    start, end = date(2026, 1, 1), date(2026, 4, 30)
    whole = plan(12000, start, end, RATABLE)
    remaining = {month: amount for month, amount in whole.items() if month >= date(2026, 3, 1)}
    deltas = replan(
        remaining=remaining,
        adjustment=-3000,
        start=start,
        end=end,
        method=RATABLE,
        replan_from=date(2026, 3, 1),
    )
    assert set(deltas) <= {date(2026, 3, 1), date(2026, 4, 1)}
    assert sum(deltas.values()) == -3000
    after = {month: remaining[month] + deltas.get(month, 0) for month in remaining}
    assert after == plan(sum(remaining.values()) - 3000, date(2026, 3, 1), end, RATABLE)


def test_a_credit_beyond_what_is_left_reverses_revenue_in_the_first_open_month() -> None:
    remaining = {date(2026, 4, 1): 1000}
    deltas = replan(
        remaining=remaining,
        adjustment=-2500,
        start=date(2026, 1, 1),
        end=date(2026, 4, 30),
        method=RATABLE,
        replan_from=date(2026, 4, 1),
    )
    assert deltas == {date(2026, 4, 1): -2500}


def test_an_adjustment_after_the_service_ended_is_earned_at_once() -> None:
    deltas = replan(
        remaining={},
        adjustment=-700,
        start=date(2026, 1, 1),
        end=date(2026, 1, 31),
        method=RATABLE,
        replan_from=date(2026, 6, 1),
    )
    assert deltas == {date(2026, 6, 1): -700}
