"""Aware datetimes bound as UTC: converted when in another zone, left as they are in UTC."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.dialects.sqlite import aiosqlite
from sqlalchemy.engine import Dialect

from core.models import base
from core.models.base import UTCDateTime
from tests.support.python_calls import profiled, python_calls

AT = datetime(2026, 12, 7, 11, 30, tzinfo=UTC)
ELSEWHERE = AT.astimezone(timezone(timedelta(hours=2)))


def test_a_datetime_in_another_zone_is_bound_as_utc() -> None:
    bound = UTCDateTime().process_bind_param(ELSEWHERE, postgresql.dialect())
    assert bound == AT
    assert bound is not None
    assert bound.tzinfo is UTC
    assert UTCDateTime().process_bind_param(ELSEWHERE, sqlite.dialect()) == AT.replace(tzinfo=None)


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(AT.replace(tzinfo=None), postgresql.dialect())


def test_a_utc_datetime_is_bound_without_a_conversion() -> None:
    dialect, type_ = postgresql.dialect(), UTCDateTime()
    with profiled() as profile:
        bound = type_.process_bind_param(AT, dialect)
    assert bound is AT
    converted = [key for key, _ in profile.entries if "astimezone" in key[2]]
    assert converted == [], converted


def processors(dialect: Dialect) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """`UTCDateTime`'s bind and result processors on `dialect`."""
    type_ = UTCDateTime().dialect_impl(dialect)
    bind = type_.bind_processor(dialect)
    read = type_.result_processor(dialect, None)
    assert bind is not None
    assert read is not None
    return bind, read


def test_on_asyncpg_a_datetime_is_bound_and_read_by_one_python_call() -> None:
    """The processors are the type's own methods (the decorator's wrapped each in a second
    function); naive datetimes are still refused, other zones still converted."""
    bind, read = processors(asyncpg.dialect())
    with python_calls() as called:
        bound, loaded = bind(AT), read(AT)
    assert (bound, loaded) == (AT, AT)
    assert [c for c in called if "contextlib" not in c and "python_calls" not in c] == [
        f"{base.__file__}:process_bind_param",
        f"{base.__file__}:process_result_value",
    ]
    assert bind(ELSEWHERE) == AT
    assert read(ELSEWHERE) == AT
    assert bind(None) is None
    assert read(None) is None
    with pytest.raises(ValueError, match="naive"):
        bind(AT.replace(tzinfo=None))


def test_on_sqlite_a_datetime_is_still_bound_as_naive_text() -> None:
    bind, read = processors(aiosqlite.dialect())
    assert bind(ELSEWHERE) == "2026-12-07 11:30:00.000000"
    assert read("2026-12-07 11:30:00.000000") == AT
