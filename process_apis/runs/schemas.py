"""Public views of workflow runs: the run a write started (`RunRef`) and a run in full."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from core.canonical.base import OutputModel
from core.errors import ErrorClass
from core.models.workflow_run import RunStatus, StepStatus


def run_url(run_id: str) -> str:
    """Where a caller follows a run."""
    return f"/v1/runs/{run_id}"


class RunState(StrEnum):
    COMPLETED = "completed"
    PENDING_RETRY = "pending_retry"


class RunRef(OutputModel):
    """The run that carried a workflow out, and where it stands."""

    state: RunState = Field(
        description="`completed`: every backend has it. `pending_retry`: a backend is down; "
        "the run is queued and will be retried (follow `run_url`)."
    )
    run_id: str
    run_url: str
    retry_at: datetime | None = None

    @classmethod
    def completed(cls, run_id: str) -> RunRef:
        return cls(state=RunState.COMPLETED, run_id=run_id, run_url=run_url(run_id))

    @classmethod
    def queued(cls, run_id: str, retry_at: datetime) -> RunRef:
        return cls(
            state=RunState.PENDING_RETRY,
            run_id=run_id,
            run_url=run_url(run_id),
            retry_at=retry_at,
        )


class RunSummary(OutputModel):
    id: str
    workflow: str
    subject_id: str
    status: RunStatus
    attempts: int
    error_class: ErrorClass | None
    error_type: str | None
    error_detail: str | None
    next_attempt_at: datetime | None = Field(
        description="When a queued run is next retried, or when a running run's lease ends."
    )
    correlation_id: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class Step(OutputModel):
    name: str
    sequence: int
    status: StepStatus
    request_digest: str | None
    downstream_key: str | None
    backend_ref: str | None
    outcome: dict[str, Any] | None
    error_class: ErrorClass | None
    error_detail: str | None
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None


class Run(RunSummary):
    params: dict[str, Any]
    result: dict[str, Any] | None
    steps: list[Step]
