"""A run's record of its attempt: its steps in it, and the steps of runs that never end
forgotten, oldest first."""

import logging

import pytest

from core.models.workflow_run import WorkflowRunRow
from process_apis.runs import run_log


def _run(run_id: str) -> WorkflowRunRow:
    return WorkflowRunRow(id=run_id, workflow="w", subject_id="inv_1", attempts=2)


def test_the_run_record_carries_the_attempt_s_steps_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    run_log.step_ended("run_a", "lookup", run_log.RECORDED)
    run_log.step_ended("run_a", "post", run_log.FAILED, seconds=0.0123, error_class="transient")
    with caplog.at_level(logging.INFO, logger=run_log.logger.name):
        run_log.run_ended(_run("run_a"), "deferred", logging.WARNING, error_class="transient")
        run_log.run_ended(_run("run_a"), "succeeded")
    deferred, succeeded = (record.__dict__ for record in caplog.records)
    assert (deferred["msg"], deferred["levelname"]) == ("workflow.run.deferred", "WARNING")
    assert (deferred["run_id"], deferred["subject_id"], deferred["attempt"]) == (
        "run_a",
        "inv_1",
        2,
    )
    assert deferred["steps"] == [
        {"step": "lookup", "outcome": "recorded", "duration_ms": None},
        {"step": "post", "outcome": "failed", "duration_ms": 12.3, "error_class": "transient"},
    ]
    assert succeeded["steps"] == []


def test_the_steps_of_runs_that_never_end_are_forgotten_oldest_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(run_log, "KEPT_RUNS", 2)
    monkeypatch.setattr(run_log, "_steps", {})
    for run_id in ("run_1", "run_2", "run_3"):
        run_log.step_ended(run_id, "post", run_log.SUCCEEDED, seconds=0.001)
    assert list(run_log._steps) == ["run_2", "run_3"]
