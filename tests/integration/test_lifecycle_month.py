"""The lifecycle month chaos check, small: 9 customers (one of each role) over 8 days with
a 3-day grace, under the check's 20 % backend faults, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from chaos.lifecycle_month import lifecycle_month
from tests.support.databases import fresh_database


async def test_a_short_lifecycle_month_ends_reconciled_and_consistent(
    database_url: str, tmp_path: Path
) -> None:
    url = await fresh_database(database_url, tmp_path)

    outcome = await lifecycle_month(url, customers=9, days=8, grace=3)

    assert outcome.passed, "\n".join([outcome.summary, *outcome.details])
