"""A run's outcome is counted on its series looked up once, not per run."""

from typing import Any

import pytest
from prometheus_client import REGISTRY

from core.metrics import WORKFLOW_RUNS
from core.models.workflow_run import WorkflowRunRow
from process_apis.runs.engine import mark_succeeded


def test_runs_of_one_outcome_look_their_series_up_once(monkeypatch: pytest.MonkeyPatch) -> None:
    looked_up: list[tuple[str, ...]] = []
    labels = WORKFLOW_RUNS.labels

    def counted(*values: str) -> Any:
        looked_up.append(values)
        return labels(*values)

    monkeypatch.setattr(WORKFLOW_RUNS, "labels", counted)
    for run_id in ("run_1", "run_2", "run_3"):
        run = WorkflowRunRow(id=run_id, workflow="series-once", subject_id="inv_1", attempts=1)
        mark_succeeded(run, {"ok": True})
    assert looked_up == [("series-once", "succeeded", "")]
    counted_runs = REGISTRY.get_sample_value(
        "ledgergate_workflow_runs_total",
        {"workflow": "series-once", "outcome": "succeeded", "error_class": ""},
    )
    assert counted_runs == 3
