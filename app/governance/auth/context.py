"""The auth objects one application instance shares, built at start-up."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import QueuePool

from app.governance.auth.authenticator import ClientCache, GatewayAuthenticator
from app.governance.auth.client_status import ClientStatusReader
from app.governance.auth.keys import KeyRing
from app.governance.auth.tokens import ExternalJwks, TokenVerifier
from app.governance.rate_limit import RateLimiter
from core.key_encryption import KeyEncryption
from core.settings import AuthSettings
from system_apis.http import public_tls

DEFAULT_POOL_TIMEOUT = 30.0


@dataclass
class AuthContext:
    settings: AuthSettings
    sessionmaker: async_sessionmaker[AsyncSession]
    ring: KeyRing
    authenticator: GatewayAuthenticator
    http: httpx.AsyncClient
    statuses: ClientStatusReader

    @classmethod
    async def start(
        cls,
        settings: AuthSettings,
        sessionmaker: async_sessionmaker[AsyncSession],
        limiter: RateLimiter,
    ) -> AuthContext:
        ring = KeyRing(
            sessionmaker,
            algorithm=settings.algorithm,
            token_ttl=settings.token_ttl,
            refresh_seconds=settings.key_refresh_seconds,
            encryption=KeyEncryption.from_settings(settings),
        )
        await ring.start()
        http = httpx.AsyncClient(verify=public_tls())
        external = ExternalJwks(settings, http) if settings.external_enabled else None
        engine: AsyncEngine = sessionmaker.kw["bind"]
        pool = engine.pool
        timeout = pool.timeout() if isinstance(pool, QueuePool) else DEFAULT_POOL_TIMEOUT
        statuses = ClientStatusReader(engine.url, pool_timeout=timeout)
        authenticator = GatewayAuthenticator(
            TokenVerifier(ring, settings, external),
            ClientCache(sessionmaker, statuses, settings.client_cache_seconds),
            settings,
            limiter,
        )
        return cls(settings, sessionmaker, ring, authenticator, http, statuses)

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.statuses.aclose()
