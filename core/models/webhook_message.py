"""Outbound webhook messages: one event for one endpoint, delivered at least once."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base


class MessageStatus(StrEnum):
    PENDING = "pending"  # an attempt is due at `next_attempt_at`
    DELIVERED = "delivered"
    FAILED = "failed"  # the retry schedule ran out, or the endpoint answered 410 Gone


PENDING = text("status = 'pending'")


class WebhookMessageRow(Base):
    """The unique key on (endpoint, event) makes a relay's second offer add nothing.

    `position` orders messages as the relay kept them, so in commit order per subject: a
    message is sent only once no earlier pending message of its subject waits for the
    same endpoint (the queue index finds those).
    """

    __tablename__ = "webhook_messages"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_webhook_messages_endpoint", "endpoint_id", "id"),
        Index("ix_webhook_messages_position", "position"),
        Index(
            "ix_webhook_messages_pending",
            "position",
            postgresql_where=PENDING,
            sqlite_where=PENDING,
        ),
        Index(
            "ix_webhook_messages_queue",
            "endpoint_id",
            "subject",
            "position",
            postgresql_where=PENDING,
            sqlite_where=PENDING,
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    event_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(120))
    subject: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(BigInteger)
    event_time: Mapped[datetime]
    payload: Mapped[str] = mapped_column(Text, doc="The CloudEvent JSON, the bytes signed.")
    status: Mapped[str] = mapped_column(String(20), default=MessageStatus.PENDING)
    # Attempts in the current schedule (a resend starts a new one); the log keeps them all.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
