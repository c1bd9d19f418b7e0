"""Billing periods: the month or year steps from a subscription's current period start."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.canonical.catalog import BillingInterval


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    def open_at(self, now: datetime, grace: timedelta) -> bool:
        """Whether usage in this period still counts in it at `now` (end plus grace)."""
        return now <= self.end + grace


def add_months(anchor: datetime, months: int) -> datetime:
    """`anchor` moved by `months`, its day clamped to the month's length (Jan 31 → Feb 28)."""
    index = anchor.year * 12 + anchor.month - 1 + months
    year, month = divmod(index, 12)
    day = min(anchor.day, calendar.monthrange(year, month + 1)[1])
    return anchor.replace(year=year, month=month + 1, day=day)


def period_of(at: datetime, *, anchor: datetime, interval: BillingInterval) -> Period:
    """The billing period holding `at`, periods stepping from `anchor` by `interval`.

    Each boundary is computed from the anchor itself, so day clamping never drifts.
    """
    step = 12 if interval == BillingInterval.YEAR else 1
    months = (at.year - anchor.year) * 12 + at.month - anchor.month
    count = months // step
    while add_months(anchor, count * step) > at:
        count -= 1
    while add_months(anchor, (count + 1) * step) <= at:
        count += 1
    return Period(add_months(anchor, count * step), add_months(anchor, (count + 1) * step))
