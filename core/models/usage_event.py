"""Usage events: append-only, one row per distinct event of a client, written in batches.

`(client_id, event_id)` is unique, so an insert `ON CONFLICT DO NOTHING` de-duplicates
exactly under any concurrency. The aggregation index serves the sums per subscription
item (the metered price), period and meter; `period_end` serves the retention purge.
`report_pass_id` is the report pass that counted it (`core.models.usage_report`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base

# SQLite gives a rowid alias only to INTEGER PRIMARY KEY; PostgreSQL gets a bigint.
ROW_ID = BigInteger().with_variant(Integer(), "sqlite")


class UsageEventRow(Base):
    __tablename__ = "usage_events"
    __table_args__ = (
        UniqueConstraint("client_id", "event_id"),
        Index(
            "ix_usage_events_aggregation", "subscription_id", "price_id", "period_start", "meter"
        ),
        Index("ix_usage_events_period_end", "period_end"),
        # The events no report pass counted yet: what a pass stamps, carried ones included.
        Index(
            "ix_usage_events_unreported",
            "subscription_id",
            "price_id",
            "period_start",
            postgresql_where=text("report_pass_id IS NULL"),
            sqlite_where=text("report_pass_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[str] = mapped_column(String(100))
    subscription_id: Mapped[str] = mapped_column(String(40))
    price_id: Mapped[str] = mapped_column(String(40))
    meter: Mapped[str] = mapped_column(String(60))
    quantity_micros: Mapped[int] = mapped_column(BigInteger)
    distinct_value: Mapped[str | None] = mapped_column(String(200))
    occurred_at: Mapped[datetime]
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    late: Mapped[bool]
    flagged: Mapped[bool]
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    body_hash: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]
    report_pass_id: Mapped[int | None] = mapped_column(BigInteger)
    """The report pass that first counted it (`usage_report_passes`): its lineage."""
