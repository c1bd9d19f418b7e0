"""API clients: who may ask for tokens, with hashed secrets and their grants."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, VersionedMixin


class ClientStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class ApiClientRow(VersionedMixin, Base):
    __tablename__ = "api_clients"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(255))
    # During a rotation the previous secret keeps working until `previous_secret_expires_at`.
    previous_secret_hash: Mapped[str | None] = mapped_column(String(255))
    previous_secret_expires_at: Mapped[datetime | None]
    scopes: Mapped[list[str]] = mapped_column(JSON)
    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id"))
    tier: Mapped[str] = mapped_column(String(20), default="standard")
    money_limits: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[ClientStatus] = mapped_column(String(20))
