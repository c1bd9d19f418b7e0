"""SQL Core statements of the hot paths sent on the database driver itself (asyncpg).

SQLAlchemy builds each statement, holds the pool and the transaction; executing one
through its execution layer costs some 400 Python calls, asyncpg's own execution of a
prepared statement a few dozen. Here each statement *shape* (a statement object and, for
an INSERT or UPDATE, the names of its parameters) is compiled once per dialect: its SQL
text, its parameters' positional order and bind processors (JSON serialisation, the
timezone check of datetimes), its columns' result processors. It is then sent on the
asyncpg connection under the SQLAlchemy connection, in the transaction SQLAlchemy began
on it (the driver's `BEGIN` is sent first when SQLAlchemy has not sent it yet; a
connection in autocommit sends none) or as a transaction of its own (`alone`), prepared
through SQLAlchemy's own cache of prepared statements (so `prepared_statement_cache_size`
and `prepared_statement_name_func` hold as they do for every other statement).

What stays as SQLAlchemy does it: the `before_cursor_execute`/`after_cursor_execute`
events (the cursor and execution context are `None`), echo, a driver error raised as
SQLAlchemy's `DBAPIError` (a lost connection invalidated, `handle_error` run), and the
prepared statements of every connection prepared again after a change of schema. A
statement on any other driver (aiosqlite), or on a connection SQLAlchemy would first
revalidate or refuse (invalidated, closed, its transaction failed), goes through
SQLAlchemy's execution unchanged.

This leans on SQLAlchemy 2.1's asyncpg adapter (`_prepare`, `_start_transaction`,
`_transaction`) and `Connection` internals; the version is locked, and the integration
tests compare what both paths send, byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Executable
from sqlalchemy.engine import Connection, Dialect, Result
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter, ClauseElement
from sqlalchemy.util import greenlet_spawn

_Processor = Callable[[Any], Any] | None


class _Shape:
    """A statement compiled for one dialect, ready to send on the driver."""

    __slots__ = ("sql", "binds", "types", "results", "described")

    def __init__(self, statement: ClauseElement, keys: tuple[str, ...], dialect: Dialect):
        compiled = cast(
            SQLCompiler, statement.compile(dialect=dialect, column_keys=list(keys) or None)
        )
        if compiled.insert_prefetch or compiled.update_prefetch:
            raise ValueError("a statement sent on the driver sets its defaulted columns itself")
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("a statement sent on the driver binds one value per parameter")
        assert not compiled.escaped_bind_names, "bind names are sent as they are"
        assert compiled.positiontup is not None, "the driver binds by position"
        processors = cast(dict[str, _Processor], compiled._bind_processors)
        binds: list[BindParameter[Any]] = [compiled.binds[name] for name in compiled.positiontup]
        if any(bind.callable is not None for bind in binds):
            raise ValueError("a statement sent on the driver binds values, not callables")
        self.sql = compiled.string
        # Per position: the parameter's key, whether it must be given, its own value (taken
        # when the key is not given), its bind processor.
        self.binds: tuple[tuple[str, bool, Any, _Processor], ...] = tuple(
            (bind.key, bind.required, bind.value, processors.get(name))
            for name, bind in zip(compiled.positiontup, binds, strict=True)
        )
        self.types = tuple(column.type for column in compiled._result_columns)
        # The result processors (none when no column has one), known once the driver has
        # described the columns (a processor may depend on the column's database type), and
        # when: a change of schema since may have changed those types.
        self.results: tuple[_Processor, ...] = ()
        self.described = -1.0

    def arguments(self, parameters: Mapping[str, Any]) -> list[Any]:
        return [
            value if process is None else process(value)
            for key, required, own, process in self.binds
            for value in (parameters[key] if required or key in parameters else own,)
        ]

    def row(
        self, record: Any, attributes: Sequence[Any], dialect: Dialect, schema_asof: float
    ) -> Sequence[Any]:
        if self.described < schema_asof:
            results = tuple(
                type_._cached_result_processor(dialect, attribute.type.oid)
                for type_, attribute in zip(self.types, attributes, strict=True)
            )
            self.results, self.described = (results if any(results) else ()), schema_asof
        if not self.results:
            return record  # type: ignore[no-any-return]
        return [
            value if process is None else process(value)
            for value, process in zip(record, self.results, strict=True)
        ]


@lru_cache(maxsize=512)
def _shape(statement: ClauseElement, keys: tuple[str, ...], dialect: Dialect) -> _Shape:
    return _Shape(statement, keys, dialect)


async def first(
    connection: AsyncConnection,
    statement: Executable,
    parameters: Mapping[str, Any],
    *,
    alone: bool = False,
) -> Sequence[Any] | None:
    """The first row `statement` answers with `parameters` (none: no row, or it returns
    none), executed in `connection`'s transaction; on the driver where the module docstring
    says so. An INSERT or UPDATE takes its columns from `parameters`, as SQLAlchemy does.

    `alone`: the statement is a whole transaction, on a connection with none begun, and is
    committed when this returns. On the driver it goes without `BEGIN` and `COMMIT`:
    PostgreSQL runs it in an implicit transaction of its own, committed as it completes (a
    `set_config(..., true)` in it holds until that commit) and rolled back if it fails.
    Through SQLAlchemy it is executed in a transaction begun for it, then committed."""
    found = await _execute(connection, statement, parameters, alone=alone, every=False)
    return found[0] if found else None


async def rows(
    connection: AsyncConnection, statement: Executable, parameters: Mapping[str, Any]
) -> list[Sequence[Any]]:
    """Every row a SELECT answers with `parameters`, in `connection`'s transaction, as
    `first` sends it."""
    return await _execute(connection, statement, parameters, alone=False, every=True)


async def _execute(
    connection: AsyncConnection,
    statement: Executable,
    parameters: Mapping[str, Any],
    *,
    alone: bool,
    every: bool,
) -> list[Sequence[Any]]:
    """`statement`'s rows (`every`), else at most its first, as `first` sends it."""
    if alone:
        assert not connection.in_transaction(), "a statement alone is a whole transaction"
    adapted = _adapted(connection, alone=alone)
    if adapted is None:
        result = await connection.execute(statement, parameters)
        found = _fetched(result, every=every) if result.returns_rows else []
        if alone:
            await connection.commit()
        return found
    sync = connection.sync_connection
    assert sync is not None
    dialect = sync.dialect
    keys = tuple(parameters) if statement.is_dml else ()
    shape = _shape(statement, keys, dialect)
    sql, arguments = shape.sql, shape.arguments(parameters)
    events = sync._has_events or sync.engine._has_events
    if events:
        for listener in sync.dispatch.before_cursor_execute:
            sql, arguments = listener(sync, None, sql, arguments, None, False)
    if sync._echo:
        sync._log_info(sql)
        sync._log_info("[driver] %r", arguments)
    try:
        if alone:
            assert adapted._transaction is None, "the driver holds no transaction of its own"
        elif adapted._transaction is None:
            await adapted._start_transaction()  # what the adapter does before a statement
        # SQLAlchemy's prepared statement of `sql`, prepared again after a change of schema
        schema_asof: float = dialect._invalidate_schema_cache_asof  # type: ignore[attr-defined]
        prepared, attributes = await adapted._prepare(sql, schema_asof)
        if every:
            records = await prepared.fetch(*arguments)
        else:
            record = await prepared.fetchrow(*arguments)
            records = [] if record is None else [record]
    except Exception as error:
        await greenlet_spawn(_raise, sync, adapted, error, sql, arguments)
        raise  # not reached: `_raise` raises
    if events:
        sync.dispatch.after_cursor_execute(sync, None, sql, arguments, None, False)
    return [shape.row(record, attributes, dialect, schema_asof) for record in records]


def _fetched(result: Result[Any], *, every: bool) -> list[Sequence[Any]]:
    """A SQLAlchemy result's rows (`every`), else at most its first."""
    if every:
        return list(result.all())
    row = result.first()
    return [] if row is None else [row]


def _adapted(connection: AsyncConnection, *, alone: bool) -> Any | None:
    """The asyncpg adapter of `connection`, in a transaction of SQLAlchemy's (begun as a
    statement begins it; none begun for a statement `alone`); none when the statement must
    go through SQLAlchemy (see the module docstring)."""
    sync = connection.sync_connection
    if sync is None or sync.dialect.driver != "asyncpg":
        return None
    proxied, transaction, nested = (
        sync._dbapi_connection,
        sync._transaction,
        sync._nested_transaction,
    )
    if proxied is None:
        return None  # SQLAlchemy revalidates it, or raises that it is closed
    if (transaction is not None and not transaction.is_active) or (
        nested is not None and not nested.is_active
    ):
        return None  # SQLAlchemy raises that the transaction must be rolled back first
    if transaction is None and not alone:
        if not sync._allow_autobegin:
            return None
        sync.begin()  # as SQLAlchemy begins one before a statement
    return proxied.dbapi_connection


def _raise(
    sync: Connection, adapted: Any, error: Exception, sql: str, arguments: list[Any]
) -> None:
    """Raise a driver's `error` as SQLAlchemy raises it from a statement (run in a
    greenlet: invalidating a lost connection closes it)."""
    try:
        adapted._handle_exception(error)  # the DB-API error asyncpg's error maps to
    except Exception as translated:
        dbapi = sync.dialect.loaded_dbapi
        if isinstance(translated, (dbapi.InvalidCachedStatementError, dbapi.InternalServerError)):
            sync.dialect._invalidate_schema_cache()  # type: ignore[attr-defined]  # re-prepare
        sync._handle_dbapi_exception(translated, sql, arguments, None, None)
