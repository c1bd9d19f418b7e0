"""Outbound webhook messages: one event for one endpoint, delivered at least once."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base


class MessageStatus(StrEnum):
    PENDING = "pending"  # an attempt is due at `next_attempt_at`
    DELIVERED = "delivered"
    FAILED = "failed"  # the retry schedule ran out, or the endpoint answered 410 Gone


class WebhookMessageRow(Base):
    """The unique key on (endpoint, event) makes a relay's second offer add nothing."""

    __tablename__ = "webhook_messages"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_webhook_messages_due", "status", "next_attempt_at"),
        Index("ix_webhook_messages_endpoint", "endpoint_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    event_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(120))
    event_time: Mapped[datetime]
    payload: Mapped[str] = mapped_column(Text, doc="The CloudEvent JSON, the bytes signed.")
    status: Mapped[str] = mapped_column(String(20), default=MessageStatus.PENDING)
    # Attempts in the current schedule (a resend starts a new one); the log keeps them all.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
