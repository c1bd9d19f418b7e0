"""Webhook deliveries: the receipts that stop replays, and the inbox the process tier reads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base


class WebhookReceiptRow(Base):
    """An event id accepted recently. The primary key makes a concurrent duplicate lose."""

    __tablename__ = "webhook_receipts"

    provider: Mapped[str] = mapped_column(String(20), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)


class WebhookInboxRow(Base):
    """An accepted event, kept until the process tier has handled it (`processed_at`)."""

    __tablename__ = "webhook_inbox"
    __table_args__ = (
        UniqueConstraint("provider", "event_id"),
        Index("ix_webhook_inbox_pending", "processed_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(60), doc="The canonical event type.")
    vendor_type: Mapped[str] = mapped_column(String(120))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, doc="The canonical event.")
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]
