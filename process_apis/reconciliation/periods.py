"""A `YYYY-MM` period's first and last day."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from process_apis.reconciliation.schemas import InvalidPeriod


def month_bounds(period: str) -> tuple[date, date]:
    try:
        year, month = (int(part) for part in period.split("-"))
        start = date(year, month, 1)
    except ValueError as error:
        raise InvalidPeriod(f"{period!r} is not a YYYY-MM month") from error
    return start, start.replace(day=calendar.monthrange(year, month)[1])


def month_of(day: date) -> str:
    return day.strftime("%Y-%m")


def previous_month(day: date) -> str:
    return month_of(day.replace(day=1) - timedelta(days=1))
