"""Turns a request's bearer token into a `Principal`, or refuses it with a 401 problem.

A token's scopes are never trusted alone: the principal holds only those the client is
still granted (the grant is cached for `auth.client_cache_seconds`), a partner-bound
principal only partner scopes, and a disabled client is refused on its next request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.governance.auth.tokens import TokenVerifier
from app.governance.metrics import AUTH_FAILURES
from app.governance.rate_limit import RateLimited, RateLimiter
from core.auth import Principal, Unauthorized
from core.models.api_client import ApiClientRow, ClientStatus
from core.scopes import PARTNER_SCOPES
from core.settings import AuthSettings


@dataclass(frozen=True)
class ClientSnapshot:
    scopes: frozenset[str]
    partner_id: str | None
    money_limits: dict[str, Any]


class ClientCache:
    """Clients' grants by id, kept briefly; their status is read on every call."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], ttl_seconds: float) -> None:
        self.sessionmaker = sessionmaker
        self.ttl = ttl_seconds
        self._entries: dict[str, tuple[float, ClientSnapshot | None]] = {}

    async def get(self, client_id: str) -> ClientSnapshot | None:
        """The grant of an active client; None for an unknown or disabled one."""
        now = time.monotonic()
        cached = self._entries.get(client_id)
        async with self.sessionmaker() as session:
            if cached is not None and now - cached[0] < self.ttl:
                status = await session.scalar(
                    select(ApiClientRow.status).where(ApiClientRow.id == client_id)
                )
                return cached[1] if status == ClientStatus.ACTIVE else None
            row = await session.get(ApiClientRow, client_id)
            if row is None or row.status != ClientStatus.ACTIVE:
                self._entries.pop(client_id, None)
                return None
            snapshot = ClientSnapshot(
                scopes=frozenset(row.scopes),
                partner_id=row.partner_id,
                money_limits=dict(row.money_limits or {}),
            )
        self._entries[client_id] = (now, snapshot)
        return snapshot


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("send `Authorization: Bearer <token>`", reason="missing_token")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be `Bearer <token>`", reason="bad_scheme")
    return token.strip()


class GatewayAuthenticator:
    """Verifies the token, checks the client is still active, then applies its rate limit."""

    def __init__(
        self,
        verifier: TokenVerifier,
        clients: ClientCache,
        settings: AuthSettings,
        limiter: RateLimiter,
    ) -> None:
        self.verifier = verifier
        self.clients = clients
        self.settings = settings
        self.limiter = limiter

    async def authenticate(self, request: Request) -> Principal:
        try:
            # An address that keeps failing is refused before its token costs anything.
            await self.limiter.refuse_failing_address(request)
            principal = await self._principal(request)
        except (Unauthorized, RateLimited) as refusal:
            request.state.auth_failed = True  # audited as a count, not a row each
            if isinstance(refusal, Unauthorized):
                AUTH_FAILURES.labels(refusal.extensions.get("reason", "unknown")).inc()
                await self.limiter.count_failed_auth(request)
            raise
        await self.limiter.enforce_client(request, principal)
        return principal

    async def _principal(self, request: Request) -> Principal:
        verified = await self.verifier.verify(bearer_token(request))
        claims = verified.claims
        if verified.external:
            return self._external_principal(claims)
        client_id = str(claims.get("client_id") or claims.get("sub") or "")
        client = await self.clients.get(client_id)
        if client is None:
            raise Unauthorized(f"API client {client_id} is disabled", reason="client_disabled")
        scopes = frozenset(str(claims.get("scope", "")).split()) & client.scopes
        return Principal(
            client_id=client_id,
            scopes=_partner_bound(scopes, client.partner_id),
            partner_id=client.partner_id,
            tier=str(claims.get("tier", "standard")),
            money_limits=client.money_limits,
        )

    def _external_principal(self, claims: dict[str, Any]) -> Principal:
        settings = self.settings
        scope_claim = claims.get(settings.external_scope_claim, "")
        scopes = scope_claim.split() if isinstance(scope_claim, str) else list(scope_claim or [])
        client_id = claims.get(settings.external_client_claim) or claims.get("sub")
        if not client_id:
            raise Unauthorized("the token names no client", reason="missing_client")
        partner = str(claims.get(settings.external_partner_claim) or "") or None
        return Principal(
            client_id=f"ext:{client_id}",
            scopes=_partner_bound(frozenset(str(scope) for scope in scopes), partner),
            partner_id=partner,
        )


def _partner_bound(scopes: frozenset[str], partner_id: str | None) -> frozenset[str]:
    """A partner-bound caller holds partner scopes only: the others read across partners."""
    return scopes if partner_id is None else scopes & PARTNER_SCOPES
