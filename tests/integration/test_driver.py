"""Statements sent on the driver (`core.driver`): the SQL and parameters SQLAlchemy would
send, the row it would answer, in the transaction SQLAlchemy holds, and its errors."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Column,
    Date,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    bindparam,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.db import database_unavailable
from core.driver import _shape, first
from core.models.base import UTCDateTime
from core.models.idempotency_key import IdempotencyStatus
from process_apis.idempotency import KEYS
from tests.conftest import Gateway
from tests.support.python_calls import python_calls

# A value of each kind the hot path binds: money, a date, an aware datetime, JSON, an enum.
TYPED = select(
    bindparam("amount", type_=Numeric(18, 2)),
    bindparam("on", type_=Date()),
    bindparam("at", type_=UTCDateTime()),
    bindparam("document", type_=JSON()),
    bindparam("status", type_=String(20)),
)
VALUES = {
    "amount": Decimal("1234.50"),
    "on": date(2026, 12, 7),
    "at": datetime(2026, 12, 7, 11, 30, tzinfo=UTC) + timedelta(microseconds=7),
    "document": {"lines": [1, "two", None], "total": "12.30"},
    "status": IdempotencyStatus.COMPLETED,
}


def key_row(key: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "client_id": "driver",
        "key": key,
        "method": "POST",
        "path": "/x",
        "request_hash": "h",
        "status": IdempotencyStatus.IN_FLIGHT,
        "locked_until": now,
        "created_at": now,
        "expires_at": now + timedelta(days=1),
    }


async def sent(bind: AsyncEngine, connection: AsyncConnection, via_driver: bool) -> Any:
    """`TYPED` with `VALUES`: the SQL and parameters sent, and the row answered."""
    seen: list[tuple[str, tuple[Any, ...]]] = []

    def statement(_connection: Any, _cursor: Any, sql: str, parameters: Any, *_: Any) -> None:
        seen.append((sql, tuple(parameters)))

    event.listen(bind.sync_engine, "before_cursor_execute", statement)
    try:
        if via_driver:
            row = await first(connection, TYPED, VALUES)
        else:
            row = (await connection.execute(TYPED, VALUES)).first()
    finally:
        event.remove(bind.sync_engine, "before_cursor_execute", statement)
    assert row is not None
    return seen, tuple(row)


async def test_the_driver_sends_and_answers_what_sqlalchemy_does(gateway: Gateway) -> None:
    bind: AsyncEngine = gateway.sessionmaker.kw["bind"]
    async with bind.connect() as connection:
        by_sqlalchemy = await sent(bind, connection, via_driver=False)
        by_driver = await sent(bind, connection, via_driver=True)

    assert by_driver == by_sqlalchemy
    (_, parameters), row = by_driver[0][0], by_driver[1]
    assert [type(value) for value in row] == [type(value) for value in VALUES.values()][:4] + [str]
    assert row[:4] == tuple(VALUES.values())[:4]
    assert row[4] == "completed"
    if bind.dialect.name == "postgresql":  # JSON serialised and the datetime checked, as ever
        assert parameters[3] == '{"lines":[1,"two",null],"total":"12.30"}'


async def test_a_connection_not_yet_begun_keeps_the_driver_statement_to_its_commit(
    gateway: Gateway,
) -> None:
    bind: AsyncEngine = gateway.sessionmaker.kw["bind"]
    async with bind.connect() as connection:  # as a run's closing takes it
        assert await first(connection, insert(KEYS), key_row("rolled-back")) is None
    async with bind.connect() as connection:
        assert await first(connection, insert(KEYS), key_row("committed")) is None
        await connection.commit()

    async with bind.connect() as connection:
        keys = await connection.scalars(select(KEYS.c.key).where(KEYS.c.client_id == "driver"))
        assert list(keys) == ["committed"]


async def test_a_driver_error_is_raised_as_sqlalchemy_raises_it(gateway: Gateway) -> None:
    bind: AsyncEngine = gateway.sessionmaker.kw["bind"]
    async with bind.begin() as connection:
        await first(connection, insert(KEYS), key_row("twice"))

    async with bind.connect() as connection:
        await first(connection, insert(KEYS), key_row("other"))
        with pytest.raises(IntegrityError) as raised:
            await first(connection, insert(KEYS), key_row("twice"))
        await connection.rollback()
    assert not database_unavailable(raised.value)

    async with bind.connect() as connection:  # rolled back, and the pool still serves
        keys = await connection.scalars(select(KEYS.c.key).where(KEYS.c.client_id == "driver"))
        assert list(keys) == ["twice"]


@pytest.mark.postgres
async def test_a_statement_prepared_before_a_change_of_schema_is_prepared_again(
    gateway: Gateway,
) -> None:
    bind: AsyncEngine = gateway.sessionmaker.kw["bind"]
    if bind.dialect.driver != "asyncpg":
        pytest.skip("prepared statements of asyncpg")
    probe = Table("driver_probe", MetaData(), Column("id", Integer), Column("value", String))
    read = select(probe.c.value).where(probe.c.id == bindparam("id"))
    async with bind.begin() as connection:
        await connection.exec_driver_sql("CREATE TABLE driver_probe (id int, value varchar(9))")
        await connection.exec_driver_sql("INSERT INTO driver_probe VALUES (1, '12')")
    try:
        async with bind.connect() as connection:
            assert await first(connection, read, {"id": 1}) == ("12",)
            await connection.commit()
            await connection.exec_driver_sql(
                "ALTER TABLE driver_probe ALTER value TYPE int USING value::int"
            )
            await connection.commit()
            with pytest.raises(DBAPIError):  # the statement prepared before answers text
                await first(connection, read, {"id": 1})
            await connection.rollback()
            assert await first(connection, read, {"id": 1}) == (12,)
    finally:
        async with bind.begin() as connection:
            await connection.exec_driver_sql("DROP TABLE driver_probe")


@pytest.mark.postgres
async def test_a_connection_lost_under_a_driver_statement_is_the_databases_failure(
    gateway: Gateway,
) -> None:
    bind: AsyncEngine = gateway.sessionmaker.kw["bind"]
    if bind.dialect.driver != "asyncpg":
        pytest.skip("asyncpg's connection")
    async with bind.connect() as connection:
        pid = await first(connection, select(func.pg_backend_pid()), {})
        assert pid is not None
        async with bind.connect() as other:
            await other.exec_driver_sql(f"SELECT pg_terminate_backend({pid[0]})")
        with pytest.raises(DBAPIError) as raised:
            await first(connection, TYPED, VALUES)
        assert raised.value.connection_invalidated
        assert database_unavailable(raised.value)

    async with bind.connect() as connection:  # a new connection serves
        assert await first(connection, TYPED, VALUES) is not None


def test_a_statement_s_values_are_bound_without_sqlalchemy_s_wrappers() -> None:
    shape = _shape(TYPED, (), asyncpg.dialect())
    with python_calls() as called:
        arguments = shape.arguments(VALUES)

    # The datetime's check is its type's own `process_bind_param`, not SQLAlchemy's function
    # around it: one call a value.
    assert [call for call in called if "/sqlalchemy/sql/" in call] == [
        call
        for call in called
        if call.endswith("sqltypes.py:process")  # JSON's serialiser
    ]
    assert arguments[2] == VALUES["at"]
