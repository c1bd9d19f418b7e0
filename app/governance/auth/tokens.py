"""Issuing and verifying access tokens (JWT, ES256 or RS256, with `kid`).

Only asymmetric algorithms are accepted, so neither `alg: none` nor an HMAC token
signed with a published public key can pass. Claims checked: signature, `iss`,
`aud`, `exp`, `nbf` (with a small clock-skew leeway).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwk, jwt
from joserfc.errors import JoseError

from app.governance.auth.keys import KeyRing
from core.auth import Unauthorized
from core.settings import AuthSettings

logger = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = ("ES256", "RS256")


@dataclass(frozen=True)
class VerifiedToken:
    claims: dict[str, Any]
    external: bool


def issue_token(
    ring: KeyRing,
    settings: AuthSettings,
    *,
    client_id: str,
    scopes: list[str],
    partner_id: str | None,
    tier: str,
) -> tuple[str, int]:
    """A signed access token and its lifetime in seconds."""
    now = int(time.time())
    ttl = int(settings.token_ttl.total_seconds())
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": client_id,
        "client_id": client_id,
        "scope": " ".join(scopes),
        "tier": tier,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
    }
    if partner_id is not None:
        claims["partner_id"] = partner_id
    key = ring.signing_key()
    token = jwt.encode({"alg": ring.algorithm, "kid": key.kid, "typ": "at+jwt"}, claims, key)
    return token, ttl


def _unverified_header(token: str) -> dict[str, Any]:
    try:
        segment = token.split(".")[0]
        padded = segment + "=" * (-len(segment) % 4)
        header = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, IndexError) as error:
        raise Unauthorized("the bearer token is not a JWT", reason="malformed_token") from error
    if not isinstance(header, dict):
        raise Unauthorized("the bearer token is not a JWT", reason="malformed_token")
    return header


def _decode(
    token: str, keys: jwk.KeySet, *, issuer: str, audience: str, leeway: int
) -> dict[str, Any]:
    try:
        decoded = jwt.decode(token, keys, algorithms=ALLOWED_ALGORITHMS)
        registry = jwt.JWTClaimsRegistry(
            leeway=leeway,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
        )
        registry.validate(decoded.claims)
    except JoseError as error:
        raise Unauthorized(
            f"the bearer token was rejected: {error.error}", reason=error.error
        ) from error
    except ValueError as error:  # malformed segments, bad JSON
        raise Unauthorized("the bearer token is malformed", reason="malformed_token") from error
    return dict(decoded.claims)


class ExternalJwks:
    """An external identity provider's JWKS: cached, refetched when stale or on an unknown
    `kid`, but at most once per `external_jwks_min_refetch_seconds` for unknown ones, so
    tokens with made-up `kid`s cannot make the gateway hammer the provider."""

    def __init__(self, settings: AuthSettings, client: httpx.AsyncClient) -> None:
        assert settings.external_jwks_url is not None
        self.url = settings.external_jwks_url
        self.max_age = settings.external_jwks_cache_seconds
        self.min_refetch = settings.external_jwks_min_refetch_seconds
        self.client = client
        self._keys = jwk.KeySet([])
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock = asyncio.Lock()

    async def keys_for(self, kid: str | None) -> jwk.KeySet:
        async with self._lock:  # one fetch at a time; waiters then see its keys
            if self._should_fetch(kid):
                await self._fetch()
        return self._keys

    def _should_fetch(self, kid: str | None) -> bool:
        now = time.monotonic()
        if now - self._attempted_at < self.min_refetch:  # a failing provider is spared too
            return False
        unknown = not any(key.kid == kid for key in self._keys.keys)
        return unknown or now - self._fetched_at > self.max_age

    async def _fetch(self) -> None:
        self._attempted_at = time.monotonic()
        try:
            response = await self.client.get(self.url, timeout=5)
            response.raise_for_status()
            self._keys = jwk.KeySet.import_key_set(response.json())
            self._fetched_at = time.monotonic()
        except (httpx.HTTPError, ValueError, JoseError) as error:
            logger.warning("auth.external_jwks.fetch_failed", extra={"error": str(error)})
            raise Unauthorized(
                "the identity provider's keys cannot be fetched", reason="jwks_unavailable"
            ) from error


class VerifiedTokenCache:
    """Tokens whose signature and claims were already checked, kept until they expire.

    A client sends the same token on every call for its lifetime: a repeat costs a
    dictionary lookup instead of a signature verification. Bounded, oldest out first.
    Only the signature and claims are cached: the client's status and grant are checked
    on every call (`ClientCache`), so disabling a client or revoking a scope still bites.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, VerifiedToken] = OrderedDict()

    def get(self, token: str) -> VerifiedToken | None:
        verified = self._entries.get(token)
        if verified is None:
            return None
        if verified.claims.get("exp", 0) <= time.time():
            del self._entries[token]
            return None
        return verified

    def put(self, token: str, verified: VerifiedToken) -> None:
        self._entries[token] = verified
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


class TokenVerifier:
    def __init__(
        self, ring: KeyRing, settings: AuthSettings, external: ExternalJwks | None
    ) -> None:
        self.ring = ring
        self.settings = settings
        self.external = external
        self.cache = VerifiedTokenCache()

    def verified_before(self, token: str) -> VerifiedToken | None:
        """The token as verified before, if it was and has not expired since."""
        return self.cache.get(token)

    async def verify(self, token: str) -> VerifiedToken:
        cached = self.cache.get(token)
        if cached is not None:
            return cached
        verified = await self._verify(token)
        self.cache.put(token, verified)
        return verified

    async def _verify(self, token: str) -> VerifiedToken:
        header = _unverified_header(token)
        kid = header.get("kid")
        if header.get("alg") not in ALLOWED_ALGORITHMS:
            raise Unauthorized(
                f"tokens signed with {header.get('alg')!r} are not accepted", reason="bad_algorithm"
            )
        await self.ring.refresh_if_stale()
        if not self.ring.knows(kid) and self.external is None:
            await self.ring.reload()  # another replica may have rotated
        settings = self.settings
        if self.ring.knows(kid):
            claims = _decode(
                token,
                self.ring.public_keys,
                issuer=settings.issuer,
                audience=settings.audience,
                leeway=settings.clock_skew_seconds,
            )
            return VerifiedToken(claims, external=False)
        if self.external is not None:
            assert settings.external_issuer is not None
            assert settings.external_audience is not None
            claims = _decode(
                token,
                await self.external.keys_for(kid),
                issuer=settings.external_issuer,
                audience=settings.external_audience,
                leeway=settings.clock_skew_seconds,
            )
            return VerifiedToken(claims, external=True)
        raise Unauthorized("the token's signing key is unknown", reason="unknown_key")
