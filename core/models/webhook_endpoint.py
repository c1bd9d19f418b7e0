"""Outbound webhook endpoints: where a client or a partner receives events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, TimestampMixin


class EndpointStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"
    DELETED = "deleted"  # disabled for good; its messages and attempts are kept


class WebhookEndpointRow(TimestampMixin, Base):
    """An endpoint owned by a platform client (`partner_id` null) or by a partner."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        Index("ix_webhook_endpoints_owner", "partner_id", "client_id", "id"),
        Index("ix_webhook_endpoints_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(100), doc="The client that created it.")
    partner_id: Mapped[str | None] = mapped_column(String(40))
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(500), default="")
    # Exact CloudEvents types received; an empty list receives every type.
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default=EndpointStatus.ENABLED)
    disabled_reason: Mapped[str | None] = mapped_column(String(40))
    disabled_at: Mapped[datetime | None]
    # `{"secret": "whsec_..."}` encrypted under the key-encryption key (`core.key_encryption`).
    secret_encrypted: Mapped[str] = mapped_column(Text)
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None]
