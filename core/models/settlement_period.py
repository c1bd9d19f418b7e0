"""The months a legal entity's commissions were settled in: later commissions are late.

A settlement run records its month per legal entity once it has drawn up the month's
statements. A commission paid in a recorded month but not yet on a statement arrived
after that month's run: the next run settles it as a prior-period adjustment.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, utcnow


class SettlementPeriodRow(Base):
    __tablename__ = "settlement_periods"

    legal_entity_id: Mapped[str] = mapped_column(ForeignKey("legal_entities.id"), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    period_end: Mapped[date] = mapped_column(Date)
    settled_by: Mapped[str | None] = mapped_column(String(100))
    settled_at: Mapped[datetime] = mapped_column(default=utcnow)
