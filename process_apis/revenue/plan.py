"""A schedule's numbers: an amount spread over the months of a service period, and an
adjustment spread over the months not yet recognized. Integer minor units in and out;
the parts always add up to the whole (largest remainder)."""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from core.models.revenue import RecognitionMethod


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def next_month(day: date) -> date:
    return month_end(day) + timedelta(days=1)


def period_bounds(period: str) -> tuple[date, date]:
    """The first and last day of a `YYYY-MM` month."""
    year, month = (int(part) for part in period.split("-"))
    first = date(year, month, 1)
    return first, month_end(first)


def days_by_month(start: date, end: date) -> dict[date, int]:
    """The days of `start..end` (both included) in each month, by the month's first day."""
    days: dict[date, int] = {}
    month = month_start(start)
    while month <= end:
        first, last = max(start, month), min(end, month_end(month))
        days[month] = (last - first).days + 1
        month = next_month(month)
    return days


def largest_remainder(amount: int, weights: Sequence[int]) -> list[int]:
    """`amount` (of either sign) split in proportion to `weights`: each part rounded down,
    then the cents left over go one each to the largest fractions, the earliest first on a
    tie, so the parts add up to `amount` exactly and the split is deterministic."""
    total = sum(weights)
    if total <= 0 or any(weight < 0 for weight in weights):
        raise ValueError(f"weights must be non-negative with a positive sum: {weights}")
    sign, whole = (-1 if amount < 0 else 1), abs(amount)
    shares = [divmod(whole * weight, total) for weight in weights]
    parts = [quotient for quotient, _ in shares]
    for index in sorted(range(len(shares)), key=lambda i: (-shares[i][1], i))[: whole - sum(parts)]:
        parts[index] += 1
    return [sign * part for part in parts]


def plan(amount: int, start: date, end: date, method: RecognitionMethod) -> dict[date, int]:
    """What `amount` earns in each month of the service period `start..end`."""
    if method == RecognitionMethod.POINT_IN_TIME:
        return {month_start(start): amount}
    days = days_by_month(start, end)
    return dict(zip(days, largest_remainder(amount, list(days.values())), strict=True))


def replan(
    *,
    remaining: Mapping[date, int],
    adjustment: int,
    start: date,
    end: date,
    method: RecognitionMethod,
    replan_from: date,
) -> dict[date, int]:
    """The entries an adjustment adds, by month, so the months from `replan_from` on earn
    what remains plus the adjustment, spread again by `method`; months before stay as
    they are. `remaining`: what those months earn now (none recognized yet).

    When nothing remains to earn, or a credit is more than what remains, the excess is
    earned (negative: revenue reversed) in the first month re-planned.
    """
    if not any(remaining.values()):
        return {replan_from: adjustment} if adjustment else {}
    new_total = sum(remaining.values()) + adjustment
    window_start = max(start, replan_from)
    new = plan(max(new_total, 0), window_start, end, method)
    deltas = {
        month: new.get(month, 0) - remaining.get(month, 0)
        for month in sorted(set(new) | set(remaining))
    }
    first = min(deltas)
    deltas[first] += min(new_total, 0)
    return {month: amount for month, amount in deltas.items() if amount}
