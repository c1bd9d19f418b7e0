"""The transactional outbox: canonical events recorded with the state change they report.

`sequence` orders events by recording; the relay publishes each subject's events in that
order. `published_at` is set once every configured sink has taken the event; what each
sink has taken is `EventPublicationRow`, so a failing sink is retried alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base

# SQLite numbers rows only through INTEGER PRIMARY KEY; PostgreSQL gets a bigint identity.
SEQUENCE_TYPE = BigInteger().with_variant(Integer(), "sqlite")
# The relay reads only unpublished rows: its index holds nothing else, however long the
# outbox grows.
UNPUBLISHED = text("published_at IS NULL")


class EventOutboxRow(Base):
    __tablename__ = "event_outbox"
    __table_args__ = (
        Index(
            "ix_event_outbox_unpublished",
            "sequence",
            postgresql_where=UNPUBLISHED,
            sqlite_where=UNPUBLISHED,
        ),
        Index("ix_event_outbox_subject", "subject", "sequence"),
    )

    sequence: Mapped[int] = mapped_column(SEQUENCE_TYPE, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    type: Mapped[str] = mapped_column(String(120), index=True)
    subject: Mapped[str] = mapped_column(String(120))
    lane: Mapped[int] = mapped_column(SmallInteger, doc="`events.lanes.lane_of(subject)`.")
    partner_id: Mapped[str | None] = mapped_column(String(40))
    time: Mapped[datetime]
    envelope: Mapped[dict[str, Any]] = mapped_column(JSON, doc="The CloudEvent as JSON.")
    recorded_at: Mapped[datetime]
    published_at: Mapped[datetime | None]


class EventPublicationRow(Base):
    """One sink has taken one event (acknowledged), so it is never offered to it again."""

    __tablename__ = "event_publications"

    sequence: Mapped[int] = mapped_column(
        SEQUENCE_TYPE, ForeignKey("event_outbox.sequence"), primary_key=True
    )
    sink: Mapped[str] = mapped_column(String(40), primary_key=True)
    published_at: Mapped[datetime]
