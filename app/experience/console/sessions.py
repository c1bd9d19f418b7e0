"""Console sign-in sessions: a random cookie, its SHA-256 in the database.

Server-side, so signing out or disabling an operator ends the session at once; each
session carries its CSRF token, sent back in every form and htmx request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from app.experience.console.operators import current_role
from core.models.base import utcnow
from core.models.operator import ConsoleSessionRow

COOKIE = "lg_console"


@dataclass(frozen=True)
class ConsoleSession:
    operator: str
    role: str
    csrf_token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(
    session: AsyncSession, *, operator: str, role: str, local: bool, ttl: timedelta
) -> str:
    """A new session's cookie value; expired sessions are purged on the way."""
    now = utcnow()
    await session.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.expires_at < now))
    token = secrets.token_urlsafe(32)
    session.add(
        ConsoleSessionRow(
            token_hash=_digest(token),
            operator=operator,
            role=role,
            local=local,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + ttl,
        )
    )
    await session.flush()
    return token


async def find_session(session: AsyncSession, token: str) -> ConsoleSession | None:
    row = await session.get(ConsoleSessionRow, _digest(token))
    if row is None or row.expires_at <= utcnow():
        return None
    role = await current_role(session, row.operator) if row.local else row.role
    if role is None:
        return None
    return ConsoleSession(operator=row.operator, role=role, csrf_token=row.csrf_token)


async def close_session(session: AsyncSession, token: str) -> None:
    await session.execute(
        delete(ConsoleSessionRow).where(ConsoleSessionRow.token_hash == _digest(token))
    )
