"""Versioned rows (`VersionedMixin`) written by SQL Core on hot paths, checked as the ORM
checks them."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Protocol

from sqlalchemy import Table, Update, bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from core.db import table_of
from core.models.base import utcnow


class Versioned(Protocol):
    """A mapped row with `VersionedMixin`'s columns."""

    @property
    def id(self) -> str: ...

    @property
    def version(self) -> int: ...


@cache
def _versioned_update(table: Table) -> Update:
    """A row's version-checked UPDATE, built once per table (its SET clause: the columns the
    execution's parameters name besides `row_id` and `row_version`)."""
    return update(table).where(
        table.c.id == bindparam("row_id"), table.c.version == bindparam("row_version")
    )


async def write_versioned(
    connection: AsyncConnection, row: Versioned, columns: Sequence[str]
) -> None:
    """Write `columns` of a row as its caller changed them, with `updated_at`, under its
    version check as the ORM makes it: the version moves on, and a row written by another
    since raises `StaleDataError`. One statement; the row is left as written, no change
    pending on it (no later flush writes it again)."""
    values = {name: getattr(row, name) for name in columns}
    values.update(version=row.version + 1, updated_at=utcnow())
    written = await connection.execute(
        _versioned_update(table_of(type(row))),
        {**values, "row_id": row.id, "row_version": row.version},
    )
    if written.rowcount != 1:
        raise StaleDataError(f"{type(row).__name__} {row.id} changed since version {row.version}")
    for name, value in values.items():
        set_committed_value(row, name, value)
