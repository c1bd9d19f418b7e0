"""Aware datetimes bound as UTC: converted when in another zone, left as they are in UTC."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from core.models.base import UTCDateTime
from tests.support.python_calls import profiled

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
