"""What has been reported to billing of each subscription item's (metered price's) usage
per billing period, pass by pass.

A pass stamps the usage events it counts for the first time (`usage_events.report_pass_id`)
and sets the period's total in billing. A report stays `open` until billing has invoiced
its period; then it is `closed`, its passes billing never accepted are `void` and their
events unstamped, so the next period's report carries them. An event stamped by a pass of
another period's report was carried there: that is its lineage.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base
from core.models.usage_event import ROW_ID


class UsageReportStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class UsagePassStatus(StrEnum):
    PENDING = "pending"  # stamped, not yet accepted by billing
    ACCEPTED = "accepted"
    VOID = "void"  # never accepted before the period was invoiced; its events unstamped


class UsageReportRow(Base):
    __tablename__ = "usage_reports"
    __table_args__ = (UniqueConstraint("subscription_id", "price_id", "period_start"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(String(40))
    price_id: Mapped[str] = mapped_column(String(40))
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    status: Mapped[UsageReportStatus] = mapped_column(String(10))
    billing_item_ref: Mapped[str | None] = mapped_column(String(255))
    reported_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    """The total billing holds for the period (own usage plus what was carried in)."""
    reported_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    invoice_ref: Mapped[str | None] = mapped_column(String(255))
    invoiced_quantity: Mapped[int | None] = mapped_column(BigInteger)
    """The quantity billing's invoice charged for the item and period, read at close."""
    lease_until: Mapped[datetime | None]
    """A reporter holds the item while it talks to billing; another skips it until then."""


class UsageReportPassRow(Base):
    __tablename__ = "usage_report_passes"
    __table_args__ = (Index("ix_usage_report_passes_report", "report_id", "id"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("usage_reports.id"))
    status: Mapped[UsagePassStatus] = mapped_column(String(10))
    own_micros: Mapped[int] = mapped_column(BigInteger)
    """The period's own usage counted up to and with this pass."""
    carried_micros: Mapped[int] = mapped_column(BigInteger)
    """What this pass carried in from periods already invoiced."""
    total_micros: Mapped[int] = mapped_column(BigInteger)
    """What this pass sets in billing: own usage plus everything carried in so far."""
    quantity: Mapped[int] = mapped_column(BigInteger)
    """`total_micros` in whole units, as billing takes it."""
    events: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
