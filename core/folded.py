"""Independent writes of one transaction sent as one statement on PostgreSQL.

Each write is a SQL Core statement built once and its rows' parameters. On PostgreSQL
several writes go as data-modifying CTEs of one `SELECT` (each runs exactly once, all on
one snapshot: only writes that neither touch nor read each other's rows may be folded);
the folded statement is built once per shape of writes, compiled once per dialect and sent
on the driver (`core.driver`). On any other database each write is its own statement, a
write of several rows one executemany. Either way each write answers its row count (or,
returning a column, that column of its one row), and a versioned write that changed no row
raises `StaleWrite` (a `StaleDataError`).

Writes that are their transaction's whole (`alone`) go on PostgreSQL as one statement
with no `BEGIN` or `COMMIT` around it (`core.driver.first`), even a single write. The
statement then checks its versioned writes itself, as its check would come after the
commit: one that changed no row makes the statement fail (a cast of a marker naming the
write, evaluated only then), so nothing of it commits, and that failure is raised as the
write's `StaleWrite`.

A write may also lead a read (`rows_led`): the read is sent only once the write returned
its row, on PostgreSQL in the read's own statement (the write a CTE of it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    Insert,
    Integer,
    Select,
    String,
    Update,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    select,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from core import driver
from core.driver import first


@dataclass(frozen=True)
class Write:
    """A statement built once and the parameters of each row it writes.

    An INSERT or UPDATE takes its columns from its rows' parameters, as when it is executed
    on its own (the other parameters are its own bound parameters: `row_id`, not `id`); a
    SELECT (a setting, say) answers its one value. `stale`: the message of the
    `StaleWrite` raised when the write changes no row (a version check that failed), or,
    returning a column, returns none.
    """

    statement: Insert | Update | Select[Any]
    rows: Sequence[Mapping[str, Any]]
    stale: str | None = None


class StaleWrite(StaleDataError):
    """A checked write (`Write.stale`) that changed no row: `write`."""

    def __init__(self, write: Write) -> None:
        super().__init__(write.stale)
        self.write = write


async def execute_folded(
    connection: AsyncConnection, writes: Sequence[Write], *, alone: bool = False
) -> list[Any]:
    """Send `writes` in order, in one statement on PostgreSQL when there are several; each
    one's row count, or the column it returns (see the module docstring). `alone`: they
    are a whole transaction, on a connection with none begun, committed when this returns
    (see `alone_possible`)."""
    dialect = connection.dialect.name
    if alone:
        assert alone_possible(dialect, writes), "writes that cannot go alone"
    if dialect == "postgresql" and (len(writes) > 1 or alone):
        shape = tuple(  # a list built in one call, not a generator resumed per write
            [
                (w.statement, tuple(w.rows[0]), len(w.rows), alone and w.stale is not None)
                for w in writes
            ]
        )
        statement, owners = _fold(shape)
        try:
            values = await first(connection, statement, _parameters(writes), alone=alone)
        except DBAPIError as error:
            guard = _GUARD_FAILED.search(str(error.orig))
            if guard is None:
                raise
            raise StaleWrite(writes[int(guard[1])]) from error
        assert values is not None, "a folded statement answers one row"
        answers: list[Any] = [0] * len(writes)
        for (owner, counted), value in zip(owners, values, strict=True):
            answers[owner] = answers[owner] + value if counted else value
    else:
        answers = [await _execute(connection, write) for write in writes]
    for write, answer in zip(writes, answers, strict=True):
        if write.stale is not None and answer in (0, None):
            raise StaleWrite(write)
    return answers


class Unled(Exception):
    """`rows_led` answered no row: its leading write returned none, or its read found none
    (on PostgreSQL one statement cannot tell which). The caller starts over without it."""


async def rows_led(
    connection: AsyncConnection,
    lead: Write,
    statement: Select[Any],
    parameters: Mapping[str, Any],
) -> list[Sequence[Any]]:
    """`statement`'s rows with `parameters` (`core.driver.rows`), in `connection`'s
    transaction, read only once `lead` (a write of one row returning a column: an insert
    that does nothing when its row is there, say) returned its row; raises `Unled` when no
    row comes back. On PostgreSQL one statement: the write is a CTE of the read, and the
    read's condition that the write returned its row is checked before the read touches or
    locks a row (the read does not see the row written: one snapshot). Elsewhere two
    statements, the write first."""
    assert len(lead.rows) == 1, "a lead writes one row"
    assert _returns(lead.statement, 1), "a lead returns a column"
    if connection.dialect.name == "postgresql":
        led = _led(lead.statement, tuple(lead.rows[0]), statement)
        found = await driver.rows(connection, led, {**_parameters([lead]), **parameters})
    elif await first(connection, lead.statement, lead.rows[0]) is None:
        raise Unled
    else:
        found = await driver.rows(connection, statement, parameters)
    if not found:
        raise Unled
    return found


@lru_cache(maxsize=64)
def _led(
    lead: Insert | Update | Select[Any], keys: tuple[str, ...], statement: Select[Any]
) -> Select[Any]:
    """`statement` with `lead` (its parameters named as `_parameters` names them) as a CTE,
    and the condition that it returned its row."""
    written = _tagged(lead, keys, "w0_0").cte("lead")
    return statement.where(select(written.c[0]).exists())


def alone_possible(dialect: str, writes: Sequence[Write]) -> bool:
    """Whether `writes`, a whole transaction, can go as one statement with no transaction
    block (`execute_folded`'s `alone`): on PostgreSQL."""
    return dialect == "postgresql" and bool(writes)


async def _execute(connection: AsyncConnection, write: Write) -> Any:
    rows = write.rows[0] if len(write.rows) == 1 else write.rows
    result = await connection.execute(write.statement, rows)
    return result.scalar() if _returns(write.statement, len(write.rows)) else result.rowcount


def _returns(statement: Insert | Update | Select[Any], rows: int) -> bool:
    """Whether a write answers a column (RETURNING, or a SELECT) rather than a count."""
    returned = len(statement.exported_columns)
    assert returned <= 1, "a write returns one column"
    assert returned == 0 or rows == 1, "a write returns a column of one row"
    return returned == 1


def _parameters(writes: Sequence[Write]) -> dict[str, Any]:
    """The parameters of every write's rows, named as `_tagged` names them."""
    return {
        f"{key}_w{i}_{r}": value
        for i, write in enumerate(writes)
        for r, row in enumerate(write.rows)
        for key, value in row.items()
    }


@lru_cache(maxsize=256)
def _fold(
    shape: tuple[tuple[Insert | Update | Select[Any], tuple[str, ...], int, bool], ...],
) -> tuple[Select[Any], tuple[tuple[int, bool], ...]]:
    """The writes of `shape` (statement, parameter names, rows, whether the statement checks
    it: `_guard`) as one SELECT of a value per write's row, and for each value the write it
    belongs to and whether it is a count."""
    columns: list[ColumnElement[Any]] = []
    owners: list[tuple[int, bool]] = []
    guards: list[ColumnElement[bool]] = []
    for i, (statement, keys, rows, guarded) in enumerate(shape):
        returns = _returns(statement, rows)
        written_rows = []
        for r in range(rows):
            tag = f"w{i}_{r}"
            tagged = _tagged(statement, keys, tag)
            owners.append((i, not returns))
            if isinstance(tagged, Select):
                assert not guarded, "a SELECT changes no row"
                columns.append(tagged.scalar_subquery())
                continue
            written = (tagged if returns else tagged.returning(literal_column("1"))).cte(tag)
            written_rows.append(written)
            if returns:
                columns.append(select(written.c[0]).scalar_subquery())
            else:
                columns.append(select(func.count()).select_from(written).scalar_subquery())
        if guarded:
            guards.append(_guard(i, written_rows))
    return select(*columns).where(*guards), tuple(owners)


# How a failed guard (`_guard`) reads in the database's error: the write's place.
_GUARD_FAILED = re.compile(r"ledgergate-stale-write-(\d+)")


def _guard(index: int, written: Sequence[Any]) -> ColumnElement[bool]:
    """True when the write at `index` changed a row (one of its rows' CTEs `written` holds
    one); else it fails the statement: a text naming the write cast to an integer, computed
    only then (its value depends on the writes, so the planner cannot fold it early)."""
    unchanged = and_(*(~select(literal_column("1")).select_from(w).exists() for w in written))
    marker = literal_column(f"'ledgergate-stale-write-{index}'", String)
    return case((unchanged, marker)).cast(Integer).is_(None)


def _tagged(
    statement: Insert | Update | Select[Any], keys: tuple[str, ...], tag: str
) -> Insert | Update | Select[Any]:
    """`statement` with its parameters' columns set explicitly and every parameter named
    for `tag` (`row_id` as `row_id_w0_0`): one statement's names never meet another's. A
    column with a default in Python is set by the write itself (its parameter would be
    named for the column alone)."""
    if not isinstance(statement, Select):
        table = statement.table
        defaulted = {  # a default's parameter would be named for its column in every write
            column.key
            for column in table.c
            if (column.default if isinstance(statement, Insert) else column.onupdate) is not None
        }
        assert defaulted <= set(keys), f"a folded write sets {defaulted - set(keys)} itself"
        statement = statement.values(
            {key: bindparam(key, type_=table.c[key].type) for key in keys if key in table.c}
        )

    def rename(element: Any, **_: Any) -> BindParameter[Any] | None:
        if isinstance(element, BindParameter) and element.key in keys:
            return bindparam(f"{element.key}_{tag}", type_=element.type)
        return None

    tagged = visitors.replacement_traverse(statement, {}, rename)
    return cast(Insert | Update | Select[Any], tagged)
