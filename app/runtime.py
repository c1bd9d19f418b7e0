"""One process's runtime: database engine, sessions, backends and the process context.

The web app's lifespan and the command-line workers (`ledgergate worker`,
`ledgergate exceptions ...`) build it the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.backends import Backends, build_backends
from app.seed import seed_demo_clients, seed_demo_estate
from core.db import create_engine, create_sessionmaker
from core.migrate import upgrade
from core.settings import Settings
from process_apis.deps import ProcessContext


@dataclass(frozen=True)
class Runtime:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    backends: Backends
    context: ProcessContext


@asynccontextmanager
async def runtime(
    settings: Settings, *, backends: Backends | None = None
) -> AsyncIterator[Runtime]:
    """Migrate (when configured), connect, and build the ports; closes them all on exit.

    `backends` replaces the ones built from settings (tests, benchmarks); the caller
    then owns and closes them.
    """
    engine = create_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        pool_timeout=settings.database_pool_timeout_seconds,
    )
    built = backends or build_backends(settings)
    try:
        if settings.migrate_on_start:
            await upgrade(engine)
        sessionmaker = create_sessionmaker(engine)
        built.bind(sessionmaker)
        context = ProcessContext(
            settings=settings,
            sessionmaker=sessionmaker,
            erp=built.erp,
            billing=built.billing,
            crm=built.crm,
            support=built.support,
        )
        yield Runtime(engine, sessionmaker, built, context)
    finally:
        if backends is None:
            await built.aclose()
        await engine.dispose()


async def prepare_database(
    database_url: str, *, seed: bool, demo_clients: bool, netsuite_connection: str | None = None
) -> None:
    """Migrate the database and, when asked, seed the demo estate and its clients, once."""
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        if seed:
            sessionmaker = create_sessionmaker(engine)
            await seed_demo_estate(sessionmaker, netsuite_connection=netsuite_connection)
        if demo_clients:
            await seed_demo_clients(create_sessionmaker(engine))
    finally:
        await engine.dispose()
