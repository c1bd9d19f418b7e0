"""Declarative base, constraint naming convention, UTC timestamps and shared columns."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import DateTime, Integer, MetaData, String, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


utcnow: Callable[[], datetime] = partial(datetime.now, UTC)
"""The time now, timezone-aware in UTC: `datetime.now(UTC)` called from C, without a
Python function around it (a posting reads the clock some fifteen times)."""


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both dialects (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use timezone-aware UTC")
        if value.tzinfo is not UTC:  # `utcnow`'s are UTC already: no conversion to call
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    # Where the dialect's own type processes nothing (asyncpg's), the processors are the
    # methods below bound to the dialect in C (`partial`): one Python call a value, where the
    # decorator's processor wraps them in a second. Otherwise (SQLite's text) the decorator's.

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        if self.impl_instance.bind_processor(dialect) is None:
            return partial(self.process_bind_param, dialect=dialect)
        return super().bind_processor(dialect)

    def result_processor(
        self, dialect: Dialect, coltype: Any
    ) -> Callable[[Any], datetime | None] | None:
        if self.impl_instance.result_processor(dialect, coltype) is None:
            return partial(self.process_result_value, _dialect=dialect)
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: datetime | None, _dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is UTC:  # asyncpg's are UTC already
            return value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class VersionedMixin(TimestampMixin):
    """Optimistic concurrency: SQLAlchemy checks and bumps `version` on every UPDATE."""

    version: Mapped[int] = mapped_column(Integer, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805
        return {"version_id_col": cls.version}


class BackendRefsMixin:
    """The same object's id in each backend."""

    billing_ref: Mapped[str | None] = mapped_column(String(255))
    erp_ref: Mapped[str | None] = mapped_column(String(255))
    crm_ref: Mapped[str | None] = mapped_column(String(255))

    @property
    def refs(self) -> dict[str, str | None]:
        return {"billing": self.billing_ref, "erp": self.erp_ref, "crm": self.crm_ref}
