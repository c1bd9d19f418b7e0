"""The usage table's hot path on PostgreSQL: a batch's stored-id lookup costs one index
probe per id, however many events the client has, under the generic plan a prepared
statement settles on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.db import create_engine, create_sessionmaker
from process_apis.usage import repository
from tests.support.databases import postgres_database

pytestmark = pytest.mark.postgres


def _row(n: int, at: datetime) -> dict[str, object]:
    return {
        "client_id": "platform",
        "event_id": f"e-{n}",
        "subscription_id": "sub_x",
        "price_id": "price_x",
        "meter": "api_calls",
        "quantity_micros": 1_000_000,
        "distinct_value": None,
        "occurred_at": at,
        "period_start": at,
        "period_end": at,
        "late": False,
        "flagged": False,
        "properties": {"region": "eü"} if n % 2 else None,
        "body_hash": f"{n:064d}",
        "received_at": at,
    }


async def test_the_stored_id_lookup_probes_the_index_per_id() -> None:
    async with postgres_database() as url:
        engine = create_engine(url)
        try:
            at = datetime(2026, 1, 1, tzinfo=UTC)
            async with create_sessionmaker(engine).begin() as session:
                rows = [_row(n, at) for n in range(5_000)]
                assert await repository.insert_new(session, rows) == {
                    f"e-{n}" for n in range(5_000)
                }
                again = [_row(n, at) for n in range(4_990, 5_010)]
                assert await repository.insert_new(session, again) == {
                    f"e-{n}" for n in range(5_000, 5_010)
                }
                ids = [f"e-{n}" for n in range(4_000, 6_000)]
                stored = await repository.stored_hashes(session, "platform", ids)
                assert stored == {f"e-{n}": f"{n:064d}" for n in range(4_000, 5_010)}
                driver = await repository.driver(session)
                await driver.execute("SET LOCAL plan_cache_mode = force_generic_plan")
                await driver.execute(
                    f"PREPARE lookup(varchar, varchar[]) AS {repository.PG_STORED}"
                )
                array = "{" + ",".join(ids) + "}"  # EXPLAIN takes no parameters
                explained = await driver.fetch(
                    f"EXPLAIN (ANALYZE, COSTS OFF) EXECUTE lookup('platform', '{array}')"
                )
                plan = "\n".join(record[0] for record in explained)
                properties = await driver.fetchval(
                    "SELECT properties ->> 'region' FROM usage_events WHERE event_id = 'e-1'"
                )
        finally:
            await engine.dispose()
    assert "Rows Removed by Filter" not in plan, plan  # not a scan of the client's events
    assert any("Index Cond" in line and "event_id" in line for line in plan.splitlines()), plan
    assert properties == "eü"
