"""Moving a test gateway's calendar forward, so the months its payments fell in have ended."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from fastapi import FastAPI


def month_start(months_ahead: int, today: date | None = None) -> date:
    """The first day of the month `months_ahead` months after today's."""
    today = today or date.today()
    index = today.year * 12 + today.month - 1 + months_ahead
    return date(index // 12, index % 12 + 1, 1)


def month(months_ahead: int) -> str:
    """`YYYY-MM` of the month `months_ahead` months after today's."""
    return month_start(months_ahead).strftime("%Y-%m")


def months_later(app: FastAPI, months_ahead: int = 1) -> date:
    """Make the gateway's process tier believe it is the first of a later month; returns it."""
    day = month_start(months_ahead)
    app.state.process = replace(app.state.process, today=lambda: day)
    return day
