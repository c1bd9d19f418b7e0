"""Duplicates suppressed per day and source, counted in the database.

Every replica adds to the same rows, and a restart forgets nothing: the console's
"duplicates suppressed" figure is their sum.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base


class DuplicateCountRow(Base):
    __tablename__ = "duplicate_counts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    source: Mapped[str] = mapped_column(String(30), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
