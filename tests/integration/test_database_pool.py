"""The PostgreSQL pool pings only connections that sat idle, and still outlives a restart.

A server restart is simulated without touching the shared server: the test's own
connections are terminated with `pg_terminate_backend`.
"""

from collections.abc import AsyncIterator

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

import core.db
from core.db import create_engine, database_unavailable
from tests.support.databases import POSTGRES_ADMIN_DSN
from tests.support.services import service_missing

pytestmark = pytest.mark.postgres


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        service_missing("PostgreSQL", str(error))
    await admin.close()
    engine = create_engine(POSTGRES_ADMIN_DSN.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the driver's pings (each three round trips: BEGIN, `;`, ROLLBACK)."""
    seen: list[int] = []
    ping = AsyncAdapt_asyncpg_connection.ping

    def counted(self: AsyncAdapt_asyncpg_connection) -> None:
        seen.append(1)
        ping(self)

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", counted)
    return seen


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def terminate(pid: int) -> None:
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def test_a_connection_handed_back_moments_ago_is_not_pinged(
    engine: AsyncEngine, pings: list[int]
) -> None:
    first = await backend_pid(engine)
    assert [await backend_pid(engine) for _ in range(5)] == [first] * 5
    assert pings == []


async def test_an_idle_connection_the_server_dropped_is_replaced_before_use(
    engine: AsyncEngine, pings: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    dropped = await backend_pid(engine)
    await terminate(dropped)
    monkeypatch.setattr(core.db, "PING_AFTER_IDLE_SECONDS", 0.0)  # it has been idle "long"

    replaced = await backend_pid(engine)

    assert replaced != dropped
    assert pings == [1]


async def test_a_busy_connection_the_server_dropped_fails_as_unavailable_then_all_are_new(
    engine: AsyncEngine, pings: list[int]
) -> None:
    async with engine.connect() as one, engine.connect() as other:
        pids = [
            int((await c.execute(text("SELECT pg_backend_pid()"))).scalar_one())
            for c in (one, other)
        ]
    for pid in pids:
        await terminate(pid)

    with pytest.raises(DBAPIError) as failed:
        await backend_pid(engine)  # used moments ago: not pinged, found dead in use

    assert database_unavailable(failed.value)
    # The dead connection invalidated the pool: neither pooled connection is reused.
    async with engine.connect() as one, engine.connect() as other:
        fresh = [
            int((await c.execute(text("SELECT pg_backend_pid()"))).scalar_one())
            for c in (one, other)
        ]
    assert not set(fresh) & set(pids)
    assert pings == []
