"""Telling a database that cannot serve now from a statement that failed."""

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from core.db import DatabaseUnreachable, create_engine, database_unavailable


def driver_error(cause: Exception, *, invalidated: bool = False) -> DBAPIError:
    """A `DBAPIError` as SQLAlchemy wraps the asyncpg adapter's error, which wraps `cause`."""
    orig = Exception(str(cause))
    orig.__cause__ = cause
    return DBAPIError("SELECT 1", None, orig, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "error",
    [
        DatabaseUnreachable("connection refused"),
        driver_error(Exception("connection was closed"), invalidated=True),
        driver_error(
            asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
        ),
        driver_error(asyncpg.exceptions.AdminShutdownError("terminating connection")),
        driver_error(asyncpg.exceptions.TooManyConnectionsError("too many clients")),
        driver_error(asyncpg.exceptions.ConnectionDoesNotExistError("connection lost")),
    ],
)
def test_an_unreachable_or_restarting_database_is_unavailable(error: Exception) -> None:
    assert database_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        driver_error(asyncpg.exceptions.UniqueViolationError("duplicate key")),
        driver_error(asyncpg.exceptions.QueryCanceledError("canceling statement due to timeout")),
        IntegrityError("INSERT", None, Exception("UNIQUE constraint failed")),
        FileNotFoundError("not the database's"),
        ValueError("a bug"),
    ],
)
def test_a_failed_statement_or_another_error_is_not(error: Exception) -> None:
    assert not database_unavailable(error)


async def test_a_refused_connection_is_marked_as_the_databases() -> None:
    engine = create_engine("postgresql+asyncpg://ledgergate:secret@127.0.0.1:1/ledgergate")
    try:
        with pytest.raises(DatabaseUnreachable) as raised:
            await engine.connect().start()
    finally:
        await engine.dispose()
    assert isinstance(raised.value.__cause__, OSError)
