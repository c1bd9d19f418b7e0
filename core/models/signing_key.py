"""Token signing keys. Several are published at once during a rotation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, utcnow


class SigningKeyRow(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(10))
    # The private JWK encrypted under the key-encryption key (`core.key_encryption`).
    private_jwk_encrypted: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Signs new tokens until `retires_at`; verifies until `expires_at` (retirement + token TTL).
    retires_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
