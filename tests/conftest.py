"""Fixtures shared by the whole suite.

`database_url` runs each test that depends on it twice: on SQLite and on PostgreSQL.
`make_gateway` builds the whole ASGI app (edge, tiers, in-process sandboxes) on that
database, emptied and re-seeded with the demo estate for every test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import settings as hypothesis_settings
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.backends import Backends, TransportWrapper, build_backends
from app.governance.auth.clients import create_client
from app.governance.auth.tokens import issue_token
from app.main import create_app
from app.seed import seed_demo_estate
from core.db import create_engine, create_sessionmaker
from core.models.api_client import ApiClientRow
from core.scopes import DEFAULT_CLIENT_SCOPES
from core.settings import BackendSettings, Settings
from tests.support.databases import fresh_database, postgres_database, sqlite_database

# `make fuzz` (`--hypothesis-profile=fuzz`): the contract fuzzer at its full depth. It is
# registered here, before Hypothesis's plugin loads the profile a command line names.
hypothesis_settings.register_profile("fuzz")

FAST_RETRIES = {
    "retry_attempts": 3,
    "retry_initial_backoff_seconds": 0.001,
    "retry_max_backoff_seconds": 0.005,
    "retry_budget_seconds": 2.0,
    "read_timeout_seconds": 2.0,
}


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    if request.param == "sqlite":
        async with sqlite_database(tmp_path_factory.mktemp("sqlite")) as url:
            yield url
    else:
        async with postgres_database() as url:
            yield url


def settings_for(database_url: str, **overrides: object) -> Settings:
    backend = BackendSettings(**FAST_RETRIES).model_dump()  # type: ignore[arg-type]
    values: dict[str, object] = {
        "environment": "test",
        "database_url": database_url,
        "migrate_on_start": False,
        "seed_demo_data": False,
        "erp": backend,
        "billing": backend,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@dataclass
class Gateway:
    app: FastAPI
    client: httpx.AsyncClient  # authenticated as a SaaS platform client (default scopes)
    anonymous: httpx.AsyncClient
    backends: Backends
    sessionmaker: async_sessionmaker[AsyncSession]

    async def token(
        self, scopes: Iterable[str], *, client_id: str | None = None, partner_id: str | None = None
    ) -> str:
        """An access token for a (new) client holding `scopes` (added to its grant)."""
        auth = self.app.state.auth
        async with self.sessionmaker() as session:
            row = await session.get(ApiClientRow, client_id) if client_id else None
            if row is None:
                row, _ = await create_client(
                    session, name="test", scopes=scopes, partner_id=partner_id, client_id=client_id
                )
            elif not set(scopes) <= set(row.scopes):
                row.scopes = sorted(set(row.scopes) | set(scopes))
            await session.commit()
        token, _ = issue_token(
            auth.ring,
            auth.settings,
            client_id=row.id,
            scopes=sorted(scopes),
            partner_id=row.partner_id,
            tier=row.tier,
        )
        return token

    async def client_with(self, scopes: Iterable[str], **kwargs: str | None) -> httpx.AsyncClient:
        token = await self.token(scopes, **kwargs)
        return httpx.AsyncClient(
            transport=self.anonymous._transport,
            base_url=self.anonymous.base_url,
            headers={"Authorization": f"Bearer {token}"},
        )


GatewayFactory = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def make_gateway(database_url: str, tmp_path: Path) -> AsyncIterator[GatewayFactory]:
    """Build gateways on an emptied, freshly seeded database; closes them after the test."""
    database_url = await fresh_database(database_url, tmp_path)
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    await seed_demo_estate(sessionmaker)
    opened: list[tuple[FastAPI, httpx.AsyncClient, Backends, object]] = []

    async def make(*, wrap: TransportWrapper | None = None, **overrides: object) -> Gateway:
        settings = settings_for(database_url, **overrides)
        backends = build_backends(settings, wrap=wrap)
        app = create_app(settings, backends=backends)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        anonymous = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://gateway.test",
        )
        gateway = Gateway(app, anonymous, anonymous, backends, sessionmaker)
        gateway.client = await gateway.client_with(DEFAULT_CLIENT_SCOPES, client_id="test-platform")
        opened.append((app, gateway.client, backends, lifespan))
        opened.append((app, anonymous, backends, None))
        return gateway

    yield make
    for _app, client, backends, lifespan in reversed(opened):
        await client.aclose()
        if lifespan is not None:
            await lifespan.__aexit__(None, None, None)  # type: ignore[attr-defined]
            await backends.aclose()
    await engine.dispose()


@pytest.fixture
async def gateway(make_gateway: GatewayFactory) -> Gateway:
    return await make_gateway()
