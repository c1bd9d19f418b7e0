"""The audit trail: one append-only row per write; failed authentications counted per
source address and minute."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, utcnow


class AuditEventRow(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_client_occurred", "client_id", "occurred_at"),
        Index("ix_audit_events_object", "object_id"),
    )

    # Time-ordered ids double as the keyset cursor.
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    client_id: Mapped[str | None] = mapped_column(String(80))
    partner_id: Mapped[str | None] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(120), index=True)
    object_id: Mapped[str | None] = mapped_column(String(80))
    outcome: Mapped[str] = mapped_column(String(40))
    status_code: Mapped[int] = mapped_column(Integer)
    correlation_id: Mapped[str | None] = mapped_column(String(128))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    source_ip: Mapped[str | None] = mapped_column(String(64))
    # How many requests the row stands for: 1, or the failed authentications of a minute.
    count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
