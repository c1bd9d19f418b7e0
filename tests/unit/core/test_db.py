"""Telling a database that cannot serve now from a statement that failed."""

import json
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import JSON
from sqlalchemy.exc import DBAPIError, IntegrityError

from core.db import DatabaseUnreachable, create_engine, database_unavailable
from tests.support.python_calls import python_calls

# A run step's recorded output, as a posting writes it to a JSON column.
STEP_OUTPUT: dict[str, Any] = {
    "erp_document_id": "bc-doc-1",
    "erp_total_including_tax": 119.0,
    "lines": [{"description": "Abonnement – März", "quantity": 1}],
    "totals_match": True,
    "posting_date": None,
}
ENGINE_URLS = (
    "sqlite+aiosqlite:///{tmp}/json.db",
    "postgresql+asyncpg://ledgergate@127.0.0.1:1/ledgergate",
)


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


@pytest.mark.parametrize("url", ENGINE_URLS)
async def test_a_json_value_is_bound_in_one_python_call_and_read_back_the_same(
    url: str, tmp_path: Path
) -> None:
    """The JSON column's text is made by one Python call of ours, not the standard
    library's `dumps`, `encode` and `iterencode`; what is read back is what was written."""
    engine = create_engine(url.format(tmp=tmp_path))
    try:
        dialect = engine.sync_engine.dialect
        bind = JSON().bind_processor(dialect)
        assert bind is not None
        with python_calls() as called:
            text = bind(STEP_OUTPUT)
        read = dialect._json_deserializer  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
    made = [name for name in called if not name.endswith(("__exit__", ":python_calls"))]
    assert [name.rsplit(":", 1)[1] for name in made] == ["process", "json_text"]
    assert read(text) == STEP_OUTPUT == json.loads(text)
