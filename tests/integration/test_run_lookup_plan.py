"""A subject's latest run of a workflow is one index probe on PostgreSQL, however many runs
the workflow has and however stale the planner's statistics: every posting reads its
invoice's latest run this way, and a month-start run adds runs faster than `ANALYZE`
follows. With an index of the subject alone, the planner intersected it with the
workflow's index, read every run of the workflow, and each posting grew slower."""

from __future__ import annotations

import pytest

from core.db import create_engine
from tests.support.databases import postgres_database

pytestmark = pytest.mark.postgres

RUNS = 20_000
LATEST = (  # the shape of `process_apis.invoices.preparing._latest`
    "SELECT id FROM workflow_runs WHERE workflow = $1 AND subject_id = $2 "
    "ORDER BY created_at DESC, id DESC LIMIT 1"
)


async def test_the_latest_run_of_a_subject_is_one_probe_under_the_generic_plan() -> None:
    async with postgres_database() as url:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                driver = (await connection.get_raw_connection()).driver_connection
                await driver.execute(
                    "INSERT INTO workflow_runs (id, workflow, subject_id, status, params, "
                    "attempts, version, created_at, updated_at) "
                    "SELECT 'run_' || n, 'invoice_posting', 'inv_' || n, 'succeeded', '{}', 1, 1, "
                    f"now(), now() FROM generate_series(1, {RUNS}) AS n"
                )
                await driver.execute("SET LOCAL plan_cache_mode = force_generic_plan")
                await driver.execute(f"PREPARE latest(varchar, varchar) AS {LATEST}")
                explained = await driver.fetch(
                    "EXPLAIN (ANALYZE, COSTS OFF) EXECUTE latest('invoice_posting', 'inv_7')"
                )
                found = await driver.fetchval("EXECUTE latest('invoice_posting', 'inv_7')")
        finally:
            await engine.dispose()
    plan = "\n".join(record[0] for record in explained)
    assert found == "run_7"
    assert "ix_workflow_runs_workflow" not in plan, plan  # not every run of the workflow
    assert "ix_workflow_runs_subject_latest" in plan, plan
