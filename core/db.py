"""Async SQLAlchemy engine and sessions for SQLite (default) and PostgreSQL.

The dialect is chosen by the URL scheme. SQLite gets the PRAGMAs a concurrent
server needs on every connection (WAL, foreign keys, busy timeout). A PostgreSQL
connection that sat in the pool longer than `PING_AFTER_IDLE_SECONDS` is pinged before
use, so a pool outlives a database restart; one handed back moments ago is not (the
driver's ping is three round trips, as many as a short transaction's statements). A
connection found dead in use invalidates the whole pool, so after a restart the
connections that were busy through it are replaced too.

`database_unavailable` tells a database that cannot serve now (down, restarting,
refusing connections) from a failed statement: the edge answers the first with a
503 the caller may retry, the second with a 500.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from pydantic_core import from_json, to_json
from sqlalchemy import Table, event, exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 10_000
# A pooled PostgreSQL connection idle longer than this is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 1.0
_RETURNED_AT = "returned_at"

# Server states that pass: shutting down or starting up (57P0x), out of connection slots,
# the connection lost. A query cancelled by a timeout (57014) is a failed statement.
_UNAVAILABLE_SERVER_ERRORS = (
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.PostgresConnectionError,
)


def json_text(value: Any) -> str:
    """A JSON column's value as the text sent to the database: one call into pydantic's
    encoder, where `json.dumps` goes through three Python functions of the standard library."""
    return to_json(value).decode()


# How every engine here writes and reads its JSON columns. The text is compact and UTF-8
# (the standard library's has spaces and escapes non-ASCII); read back, the values are the same.
_JSON_CODEC: dict[str, Any] = {"json_serializer": json_text, "json_deserializer": from_json}


class DatabaseUnreachable(ConnectionError):
    """Opening a connection failed at the socket: the database server is not there."""


def _connect(dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
    """Connect as SQLAlchemy would, marking a socket failure as the database's."""
    try:
        return dialect.connect(*cargs, **cparams)
    except OSError as error:
        raise DatabaseUnreachable(f"cannot connect to the database: {error}") from error


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` means the database cannot serve now, rather than a failed statement."""
    if isinstance(error, DatabaseUnreachable):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    cause = error.orig.__cause__ if error.orig is not None else None
    return isinstance(cause, _UNAVAILABLE_SERVER_ERRORS)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _returned(_dbapi_connection: Any, record: Any) -> None:
    record.info[_RETURNED_AT] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Ping a connection that waited in the pool longer than `PING_AFTER_IDLE_SECONDS`; a
    dead one is replaced by a new connection (the pool retries on `DisconnectionError`)."""
    returned_at = record.info.get(_RETURNED_AT)
    if returned_at is None or time.monotonic() - returned_at <= PING_AFTER_IDLE_SECONDS:
        return  # new, or in use moments ago
    try:
        dbapi_connection.ping()
    except Exception as error:
        raise exc.DisconnectionError(f"the pooled connection is gone: {error}") from error


def _sqlite_engine(url: str | URL, *, pool_timeout: float, **options: Any) -> AsyncEngine:
    engine = create_async_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_timeout=pool_timeout,
        **_JSON_CODEC,
        **options,
    )
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def create_engine(url: str, *, pool_size: int = 10, pool_timeout: float = 30.0) -> AsyncEngine:
    """`pool_timeout`: how long a request waits for a free connection before it gives up."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        return _sqlite_engine(url, pool_timeout=pool_timeout)
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=pool_timeout,
        **_JSON_CODEC,
    )
    event.listen(engine.sync_engine, "do_connect", _connect)
    event.listen(engine.sync_engine.pool, "checkin", _returned)
    event.listen(engine.sync_engine.pool, "checkout", _ping_if_idle)
    return engine


def create_autocommit_engine(
    url: str | URL, *, pool_size: int, pool_timeout: float = 30.0
) -> AsyncEngine:
    """An engine for single reads: each statement in autocommit (no `BEGIN`, no
    `ROLLBACK`), its connections not pinged before use (a ping is a round trip as dear as
    the read). Its callers retry a read that fails with `connection_invalidated` once."""
    if is_sqlite(str(url)):
        return _sqlite_engine(url, pool_timeout=pool_timeout, isolation_level="AUTOCOMMIT")
    engine = create_async_engine(
        url,
        isolation_level="AUTOCOMMIT",
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=pool_timeout,
        **_JSON_CODEC,
    )
    event.listen(engine.sync_engine, "do_connect", _connect)
    return engine


def table_of(model: Any) -> Table:
    """A mapped class's table, for SQL Core statements on the hot paths."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def upsert_into(table: Table, dialect: str) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into `table` that takes `ON CONFLICT` clauses, in the connection's
    dialect (`connection.dialect.name`)."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def connection_of(executor: AsyncSession | AsyncConnection) -> AsyncConnection:
    """Where SQL Core statements run: `executor` itself, or the connection of a session's
    transaction (begun if need be)."""
    if isinstance(executor, AsyncConnection):
        return executor
    return await executor.connection()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def session_scope(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        yield session
