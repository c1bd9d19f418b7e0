"""Versioned rows (`VersionedMixin`) written by SQL Core on hot paths, checked as the ORM
checks them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, Protocol

from sqlalchemy import Table, Update, bindparam, update
from sqlalchemy.orm.attributes import instance_dict, instance_state

from core.db import table_of
from core.folded import Write
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


def versioned_write(row: Versioned, columns: Sequence[str]) -> Write:
    """The write of `columns` of a row as its caller changed them, with `updated_at`, under
    its version check as the ORM makes it: the version moves on, and a row written by
    another since raises `StaleDataError` when the write is sent (`core.folded`)."""
    held = row.__dict__  # a loaded column read without the ORM's instrumentation
    values = {name: held[name] if name in held else getattr(row, name) for name in columns}
    row_id, version = row.id, row.version
    values.update(version=version + 1, updated_at=utcnow())
    return Write(
        _versioned_update(table_of(type(row))),
        [{**values, "row_id": row_id, "row_version": version}],
        stale=f"{type(row).__name__} {row_id} changed since version {version}",
    )


def leave_written(row: Versioned, write: Write) -> None:
    """Leave a row as its `versioned_write` writes it: no change pending on it (no later
    flush writes it again)."""
    values = dict(write.rows[0])
    del values["row_id"], values["row_version"]
    set_committed(row, values)


def set_committed(row: object, values: Mapping[str, Any]) -> None:
    """Set column attributes of a mapped row as stored, with no change pending on them: as
    `set_committed_value` sets each, in one call into the ORM's state for them all (it takes
    three a column)."""
    state, stored = instance_state(row), instance_dict(row)
    assert values.keys() <= state.manager.keys(), "columns of the row's mapped class"
    stored.update(values)
    state._commit(stored, values)
