"""Test databases: a migrated SQLite file and a migrated PostgreSQL database per session."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from sqlalchemy import delete, exists, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from core.db import create_engine
from core.migrate import upgrade
from core.models import Base
from core.models.audit_event import AuditEventRow
from tests.support.services import service_missing

POSTGRES_ADMIN_DSN = os.environ.get(
    "LEDGERGATE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)


@asynccontextmanager
async def sqlite_database(directory: Path) -> AsyncIterator[str]:
    url = f"sqlite+aiosqlite:///{directory / 'ledgergate-test.db'}"
    await _migrate(url)
    yield url


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    name = f"lg_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        service_missing("PostgreSQL", str(error))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace(
            "postgresql://", "postgresql+asyncpg://"
        )
        url = f"{base}/{name}"
        await _migrate(url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def fresh_database(url: str, directory: Path) -> str:
    """An empty, migrated database for one test.

    SQLite: a copy of the migrated template file (rows of the append-only audit table
    cannot be deleted). PostgreSQL: the session's database, emptied.
    """
    if url.startswith("sqlite"):
        copy = directory / "ledgergate.db"
        shutil.copyfile(url.split("///", 1)[1], copy)
        return f"sqlite+aiosqlite:///{copy}"
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await _empty_postgres(connection)
    finally:
        await engine.dispose()
    return url


async def _empty_postgres(connection: AsyncConnection) -> None:
    """Delete the rows of the tables that have any, children first.

    A TRUNCATE of every table costs a new file per table and index (over a second a
    test); a DELETE of the few tables a test filled costs milliseconds. The append-only
    audit table refuses DELETE (a row trigger), so it is truncated, which fires none.
    """
    tables = Base.metadata.sorted_tables
    filled = select(*(exists(table.select()).label(table.name) for table in tables))
    has_rows = (await connection.execute(filled)).one()._mapping
    for table in reversed(tables):
        if not has_rows[table.name]:
            continue
        if table.name == AuditEventRow.__tablename__:
            await connection.execute(text(f'TRUNCATE "{table.name}"'))
        else:
            await connection.execute(delete(table))
