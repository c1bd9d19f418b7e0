"""API client management: create, list, rotate secrets, disable (used by the CLI and seed)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.governance.auth.secrets import hash_secret, new_secret
from core.errors import BusinessRuleViolation, NotFound
from core.ids import new_id
from core.models.api_client import ApiClientRow, ClientStatus
from core.models.base import utcnow
from core.models.partner import PartnerRow
from core.scopes import PARTNER_SCOPES, SCOPES

TIERS = ("standard", "premium", "internal")


class InvalidClient(BusinessRuleViolation):
    slug = "invalid-client-definition"
    title = "The API client definition is invalid"


async def create_client(
    session: AsyncSession,
    *,
    name: str,
    scopes: Iterable[str],
    partner_id: str | None = None,
    tier: str = "standard",
    money_limits: dict[str, Any] | None = None,
    client_id: str | None = None,
    secret: str | None = None,
) -> tuple[ApiClientRow, str]:
    """A new client and its secret (shown once: only the hash is kept).

    Without `secret` the gateway generates one (SHA-256 digest kept); a chosen `secret`
    may be guessable and is kept as a scrypt hash.
    """
    scope_set = sorted(set(scopes))
    unknown = set(scope_set) - SCOPES.keys()
    if unknown:
        raise InvalidClient(f"unknown scopes {sorted(unknown)}")
    if tier not in TIERS:
        raise InvalidClient(f"tier must be one of {TIERS}")
    if partner_id is not None and await session.get(PartnerRow, partner_id) is None:
        raise InvalidClient(f"no partner {partner_id}")
    if partner_id is not None and set(scope_set) - PARTNER_SCOPES:
        raise InvalidClient(
            f"a partner-bound client may hold only {sorted(PARTNER_SCOPES)}, "
            f"not {sorted(set(scope_set) - PARTNER_SCOPES)}"
        )
    secret, secret_hash = (secret, hash_secret(secret)) if secret else new_secret()
    client = ApiClientRow(
        id=client_id or new_id("api_client"),
        name=name,
        secret_hash=secret_hash,
        scopes=scope_set,
        partner_id=partner_id,
        tier=tier,
        money_limits=money_limits or {},
        status=ClientStatus.ACTIVE,
    )
    session.add(client)
    await session.flush()
    return client, secret


async def list_clients(session: AsyncSession) -> Sequence[ApiClientRow]:
    return (await session.scalars(select(ApiClientRow).order_by(ApiClientRow.created_at))).all()


async def get_client(session: AsyncSession, client_id: str) -> ApiClientRow:
    client = await session.get(ApiClientRow, client_id)
    if client is None:
        raise NotFound(f"no API client {client_id}")
    return client


async def rotate_secret(
    session: AsyncSession, client_id: str, *, grace: timedelta = timedelta(hours=1)
) -> str:
    """A new secret; the old one keeps working for `grace` so callers can roll over."""
    client = await get_client(session, client_id)
    secret, secret_hash = new_secret()
    client.previous_secret_hash = client.secret_hash if grace > timedelta(0) else None
    client.previous_secret_expires_at = utcnow() + grace if grace > timedelta(0) else None
    client.secret_hash = secret_hash
    await session.flush()
    return secret


async def disable_client(session: AsyncSession, client_id: str) -> ApiClientRow:
    """Disabled clients get no tokens, and their live tokens stop working."""
    client = await get_client(session, client_id)
    client.status = ClientStatus.DISABLED
    await session.flush()
    return client
