"""People who sign in to the console: local operators, and the sessions they hold.

Local operators (the embedded default) have an argon2 password hash; operators signed
in through the organization's identity provider have no row here, only sessions.
A session row is keyed by the SHA-256 of its cookie, so a database read never yields
a usable cookie.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, utcnow


class OperatorRow(Base):
    __tablename__ = "operators"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsoleSessionRow(Base):
    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_expires_at", "expires_at"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    operator: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(20))
    # Local operators are re-checked on every request (disabling one ends its sessions).
    local: Mapped[bool] = mapped_column(Boolean)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
