"""Mapped rows built from what a SQL Core statement read, without an ORM session: the hot
paths read their rows on the driver (`core.driver`) and hand on the mapped classes the rest
of the code knows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.orm import make_transient_to_detached

from core.db import table_of

Mapped = TypeVar("Mapped")


def columns_of(model: type[Any]) -> tuple[str, ...]:
    """The names of a mapped class's columns (its attributes' too), in its table's order: the
    order of `select(table)`'s columns."""
    table: Table = table_of(model)
    return tuple(table.c.keys())


def transient(model: type[Mapped], **values: Any) -> Mapped:
    """A new `model` row holding `values`, as its constructor would build it but without a
    call through the ORM's instrumentation per column (some nine a column): a flush inserts
    what it holds, and a change set on it afterwards is tracked as on any new row. The
    mappers are configured first, as the constructor configures them."""
    model.__mapper__._check_configure()  # type: ignore[attr-defined]
    row: Mapped = model._sa_class_manager.new_instance()  # type: ignore[attr-defined]
    row.__dict__.update(values)
    return row


def detached(model: type[Mapped], columns: Iterable[str], values: Iterable[Any]) -> Mapped:
    """A `model` row as stored, detached: `values` of its `columns`, no change pending, and
    once added to a session, persistent there (a change then flushes as an UPDATE under the
    row's version check). Its relationships are unloaded until set (`set_committed_value`)."""
    row: Mapped = model._sa_class_manager.new_instance()  # type: ignore[attr-defined]
    row.__dict__.update(zip(columns, values, strict=True))
    make_transient_to_detached(row)
    return row
