"""A command's database work: on the configured database, migrated first."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import create_engine, create_sessionmaker
from core.migrate import upgrade
from core.settings import Settings, get_settings

T = TypeVar("T")


def with_database(
    work: Callable[[Settings, async_sessionmaker[AsyncSession]], Awaitable[T]],
) -> T:
    """Run `work` with the settings and a sessionmaker on the migrated database."""
    settings = get_settings()

    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
            return await work(settings, create_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def in_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one committed session on the migrated database."""

    async def committed(_: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> T:
        async with sessionmaker() as session:
            result = await work(session)
            await session.commit()
            return result

    return with_database(committed)
