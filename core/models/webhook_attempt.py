"""The delivery log: every attempt to deliver a webhook message, kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base


class WebhookAttemptRow(Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_message", "message_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("webhook_messages.id"))
    endpoint_id: Mapped[str] = mapped_column(String(40))
    attempted_at: Mapped[datetime]
    # delivered, failed, gone (410) or refused (the SSRF guard stopped it)
    outcome: Mapped[str] = mapped_column(String(20))
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(500))
