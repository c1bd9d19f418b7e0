"""Public views of workflow runs and their steps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from core.canonical.base import OutputModel
from core.errors import ErrorClass
from core.models.workflow_run import RunStatus, StepStatus


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
