"""Turns a request's bearer token into a `Principal`, or refuses it with a 401 problem.

A token's scopes are never trusted alone: the principal holds only those the client is
still granted (the grant is cached for `auth.client_cache_seconds`), a partner-bound
principal only partner scopes, and a disabled client is refused on its next request
(its status is read unless the clients' shared version proves it current:
`client_status.py`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.governance.auth.client_status import VERSION_KEY, ClientStatusReader
from app.governance.auth.tokens import TokenVerifier, VerifiedToken
from app.governance.metrics import AUTH_FAILURES
from app.governance.rate_limit import RateLimited, RateLimiter, apply_verdict
from app.governance.raw_headers import header
from core.auth import Principal, Unauthorized
from core.models.api_client import ApiClientRow, ClientStatus
from core.scopes import PARTNER_SCOPES
from core.settings import AuthSettings

DEFAULT_TIER = "standard"
PRINCIPALS_MAX = 10_000


@dataclass(frozen=True)
class ClientSnapshot:
    scopes: frozenset[str]
    partner_id: str | None
    money_limits: dict[str, Any]


@dataclass(frozen=True)
class Cached:
    at: float  # monotonic
    snapshot: ClientSnapshot
    version: str | None  # of the clients' statuses, read before the status was


class ClientCache:
    """Active clients' grants by id, kept briefly. Their status is read on every call,
    unless the call brings the version of the clients' statuses (`client_status.py`) the
    grant was read under: no client's status has changed since."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        statuses: ClientStatusReader,
        ttl_seconds: float,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.statuses = statuses
        self.ttl = ttl_seconds
        self._entries: dict[str, Cached] = {}

    async def get(self, client_id: str, version: str | None = None) -> ClientSnapshot | None:
        """The grant of an active client; None for an unknown or disabled one. `version`:
        the clients' statuses' version, read before this call (None: not known)."""
        now = time.monotonic()
        cached = self._entries.get(client_id)
        if cached is not None and now - cached.at < self.ttl:
            if version is not None and cached.version == version:
                return cached.snapshot
            if await self.statuses.status(client_id) != ClientStatus.ACTIVE:
                self._entries.pop(client_id, None)
                return None
            self._entries[client_id] = Cached(cached.at, cached.snapshot, version)
            return cached.snapshot
        async with self.sessionmaker() as session:
            row = await session.get(ApiClientRow, client_id)
            if row is None or row.status != ClientStatus.ACTIVE:
                self._entries.pop(client_id, None)
                return None
            snapshot = ClientSnapshot(
                scopes=frozenset(row.scopes),
                partner_id=row.partner_id,
                money_limits=dict(row.money_limits or {}),
            )
        self._entries[client_id] = Cached(now, snapshot, version)
        return snapshot


def bearer_token(request: Request) -> str:
    value = header(request.scope, b"authorization")
    if not value:
        raise Unauthorized("send `Authorization: Bearer <token>`", reason="missing_token")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be `Bearer <token>`", reason="bad_scheme")
    return token.strip()


class GatewayAuthenticator:
    """Verifies the token, checks the client is still active, then applies its rate limit.

    A token verified before (the usual case: a client sends the same one for its whole
    lifetime) costs one Redis round trip, which looks at the address's failed
    authentications, counts the client's request and reads the clients' statuses' version
    at once; the client's status is read from the database only if that version is not
    the one its grant was cached under. Any other token takes the careful way: the address
    is looked at first, so that a refused one costs no signature verification.
    """

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
        # The principal of a verified token and its client's cached grant, made once per
        # pair (by identity: a new grant or token is a new pair); a full memo starts over.
        self._principals: dict[tuple[int, int], tuple[object, object, Principal]] = {}

    async def authenticate(self, request: Request) -> Principal:
        verified = self._verified_before(request)
        if verified is not None and (identity := self._identity(verified)) is not None:
            return await self._authenticate_verified(request, verified, *identity)
        try:
            # An address that keeps failing is refused before its token costs anything.
            await self.limiter.refuse_failing_address(request)
            verified = await self.verifier.verify(bearer_token(request))
            principal = await self._principal(verified)
        except (Unauthorized, RateLimited) as refusal:
            await self._refused(request, refusal)
            raise
        await self.limiter.enforce_client(request, principal)
        return principal

    async def _authenticate_verified(
        self, request: Request, verified: VerifiedToken, client_id: str, tier: str
    ) -> Principal:
        try:
            # An address failing too often is refused first, its client's window spared.
            verdict, version = await self.limiter.count_client_unless_failing(
                request, client_id, tier, VERSION_KEY
            )
            client = await self._client(verified, client_id, version)
            principal = self._principal_with(verified, client)
        except (Unauthorized, RateLimited) as refusal:
            await self._refused(request, refusal)
            raise
        apply_verdict(request, verdict)
        return principal

    async def _refused(self, request: Request, refusal: Unauthorized | RateLimited) -> None:
        request.state.auth_failed = True  # audited as a count, not a row each
        if isinstance(refusal, Unauthorized):
            AUTH_FAILURES.labels(refusal.extensions.get("reason", "unknown")).inc()
            await self.limiter.count_failed_auth(request)

    def _verified_before(self, request: Request) -> VerifiedToken | None:
        """The request's token if it was verified before (still valid), else None."""
        try:
            return self.verifier.verified_before(bearer_token(request))
        except Unauthorized:
            return None

    def _identity(self, verified: VerifiedToken) -> tuple[str, str] | None:
        """The client id and tier a verified token names, or None if it names no client."""
        claims = verified.claims
        if verified.external:
            client = claims.get(self.settings.external_client_claim) or claims.get("sub")
            return (f"ext:{client}", DEFAULT_TIER) if client else None
        client_id = _client_id(claims)
        return (client_id, str(claims.get("tier", DEFAULT_TIER))) if client_id else None

    async def _client(
        self, verified: VerifiedToken, client_id: str, version: str | None = None
    ) -> ClientSnapshot | None:
        """The grant of the gateway's own client (None: disabled or unknown); None for an
        external token too, whose grant is its claims."""
        return None if verified.external else await self.clients.get(client_id, version)

    async def _principal(self, verified: VerifiedToken) -> Principal:
        return self._principal_with(
            verified, await self._client(verified, _client_id(verified.claims))
        )

    def _principal_with(self, verified: VerifiedToken, client: ClientSnapshot | None) -> Principal:
        if verified.external:
            return self._external_principal(verified.claims)
        known = self._principals.get(key := (id(verified), id(client)))
        if known is not None and known[0] is verified and known[1] is client:
            return known[2]
        principal = _own_principal(verified.claims, client)
        if len(self._principals) >= PRINCIPALS_MAX:
            self._principals.clear()
        self._principals[key] = (verified, client, principal)
        return principal

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


def _own_principal(claims: dict[str, Any], client: ClientSnapshot | None) -> Principal:
    """The principal of a token the gateway issued, for its client's grant (None: the
    client is disabled or unknown)."""
    client_id = _client_id(claims)
    if client is None:
        raise Unauthorized(f"API client {client_id} is disabled", reason="client_disabled")
    scopes = frozenset(str(claims.get("scope", "")).split()) & client.scopes
    return Principal(
        client_id=client_id,
        scopes=_partner_bound(scopes, client.partner_id),
        partner_id=client.partner_id,
        tier=str(claims.get("tier", DEFAULT_TIER)),
        money_limits=client.money_limits,
    )


def _client_id(claims: dict[str, Any]) -> str:
    """The gateway's own client a token it issued names."""
    return str(claims.get("client_id") or claims.get("sub") or "")


def _partner_bound(scopes: frozenset[str], partner_id: str | None) -> frozenset[str]:
    """A partner-bound caller holds partner scopes only: the others read across partners."""
    return scopes if partner_id is None else scopes & PARTNER_SCOPES
