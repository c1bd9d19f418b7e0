"""A run's log: one record when an attempt ends, its steps in it.

Every run's steps are stored with it (`GET /v1/runs/{id}`); the log gives an operator each
attempt in one line, with the correlation id every line carries:

- `workflow.run.succeeded` and `workflow.run.rejected` (INFO), `workflow.run.deferred` and
  `workflow.run.failed` (WARNING), each with `run_id`, `workflow`, `subject_id`,
  `attempt` and `steps`, the attempt's steps in order: `step`, `outcome` (`succeeded`,
  `recorded`: answered without a backend call, or `failed`), `duration_ms` of the backend
  call, and `error_class` of a failed one; the three last add `error_class`, `deferred`
  the `error` too.
- Each step on its own line at DEBUG: `workflow.step.succeeded`, `workflow.step.recorded`,
  `workflow.step.failed`, with `run_id` and the step's fields.

An attempt's steps are kept in this process until its record is written, for at most
`KEPT_RUNS` runs at once: an attempt that ends without one (its process stopped between
two steps, say) is forgotten with the oldest.
"""

from __future__ import annotations

import logging
from typing import Any

from core.models.workflow_run import WorkflowRunRow

# The records' logger is the engine's, as it was when each step had its INFO line.
logger = logging.getLogger("process_apis.runs.engine")

KEPT_RUNS = 10_000

SUCCEEDED, RECORDED, FAILED = "succeeded", "recorded", "failed"

_steps: dict[str, list[dict[str, Any]]] = {}  # an attempt's steps, by run id, oldest first


def step_ended(
    run_id: str,
    name: str,
    outcome: str,
    *,
    seconds: float | None = None,
    error_class: str | None = None,
) -> None:
    """Note a step for its run's record (`seconds`: its backend call's), and log it at DEBUG."""
    step: dict[str, Any] = {
        "step": name,
        "outcome": outcome,
        "duration_ms": None if seconds is None else round(seconds * 1000, 2),
    }
    if error_class is not None:
        step["error_class"] = error_class
    _kept(run_id).append(step)
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(f"workflow.step.{outcome}", extra={"run_id": run_id, **step})


def _kept(run_id: str) -> list[dict[str, Any]]:
    steps = _steps.get(run_id)
    if steps is None:
        if len(_steps) >= KEPT_RUNS:
            del _steps[next(iter(_steps))]
        steps = _steps[run_id] = []
    return steps


def run_ended(run: WorkflowRunRow, outcome: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log the end of `run`'s attempt (`workflow.run.<outcome>`) with the steps it took."""
    steps = _steps.pop(run.id, [])
    if logger.isEnabledFor(level):
        logger.log(
            level,
            f"workflow.run.{outcome}",
            extra={
                "run_id": run.id,
                "workflow": run.workflow,
                "subject_id": run.subject_id,
                "attempt": run.attempts,
                "steps": steps,
                **fields,
            },
        )
