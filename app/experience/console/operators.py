"""Local operators: created from the command line, signed in with a password."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.experience.console.errors import OperatorExists, UnknownRole, WeakPassword
from app.experience.console.passwords import MIN_LENGTH, hash_password, verify_password
from app.experience.console.roles import ROLES
from core.ids import new_id
from core.models.operator import OperatorRow


async def create_operator(
    session: AsyncSession, *, name: str, role: str, password: str
) -> OperatorRow:
    if role not in ROLES:
        raise UnknownRole(f"roles are {', '.join(ROLES)}", roles=list(ROLES))
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password has at least {MIN_LENGTH} characters")
    if await session.scalar(select(OperatorRow.id).where(OperatorRow.name == name)):
        raise OperatorExists(f"operator {name} exists")
    row = OperatorRow(
        id=new_id("operator"), name=name, role=role, password_hash=hash_password(password)
    )
    session.add(row)
    await session.flush()
    return row


async def authenticate(session: AsyncSession, *, name: str, password: str) -> OperatorRow | None:
    """The enabled operator `name` if `password` is theirs; None otherwise."""
    row = await session.scalar(select(OperatorRow).where(OperatorRow.name == name))
    known = row is not None and not row.disabled
    if not verify_password(row.password_hash if known and row else None, password):
        return None
    return row


async def current_role(session: AsyncSession, name: str) -> str | None:
    """The role of an enabled local operator, None when disabled or gone."""
    row = await session.scalar(select(OperatorRow).where(OperatorRow.name == name))
    return row.role if row is not None and not row.disabled else None
