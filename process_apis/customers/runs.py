"""Run bookkeeping the customer, subscription and entitlement workflows share.

The invoice posting workflow is the model: a run is taken (new, or a queued one
resumed) in the prepare transaction; steps run with no transaction open; a transient
failure defers the run, anything else fails it. These helpers keep that pattern in
one place for the workflows that came after it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.canonical.base import OutputModel
from core.errors import Conflict, LedgergateError
from core.models.base import Base
from core.models.workflow_run import StepStatus, WorkflowRunRow, WorkflowStepRow
from process_apis import engine
from process_apis.engine import Engine, attach_run, run_url
from process_apis.invoices.repository import latest_run

__all__ = ["latest_run", "run_url"]


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


class WorkInProgress(Conflict):
    slug = "workflow-in-progress"
    title = "Another run is working on this object"


async def take_run(
    session: AsyncSession,
    *,
    workflow: str,
    subject_id: str,
    params: dict[str, Any],
    correlation_id: str | None,
    client_id: str | None,
    claimed_run_id: str | None = None,
) -> WorkflowRunRow:
    """The subject's queued run of `workflow` resumed, or a new one added to `session`.

    A run another process is executing now is a 409; the replayer passes the run it
    has claimed as `claimed_run_id`.
    """
    return engine.take_run(
        session,
        await latest_run(session, workflow=workflow, subject_id=subject_id),
        workflow=workflow,
        subject_id=subject_id,
        params=params,
        correlation_id=correlation_id,
        client_id=client_id,
        claimed_run_id=claimed_run_id,
        busy=lambda run: WorkInProgress(
            f"run {run.id} is working on {subject_id} now; retry shortly",
            run_id=run.id,
            run_url=run_url(run.id),
        ),
    )


async def step_outcome(
    sessionmaker: async_sessionmaker[AsyncSession], run_id: str, name: str
) -> dict[str, Any] | None:
    """What a step of this run answered when it succeeded, for steps that must not repeat."""
    async with sessionmaker() as session:
        step = await session.scalar(
            select(WorkflowStepRow).where(
                WorkflowStepRow.run_id == run_id,
                WorkflowStepRow.name == name,
                WorkflowStepRow.status == StepStatus.SUCCEEDED,
            )
        )
        return None if step is None else step.outcome


async def save_refs(
    sessionmaker: async_sessionmaker[AsyncSession],
    model: type[Base],
    object_id: str,
    **refs: str,
) -> None:
    """Record backend cross-references as soon as a step learns them.

    A later failure of the run then never makes a replay create the object again,
    even after the backend has forgotten the idempotency key.
    """
    async with sessionmaker.begin() as session:
        row = await session.get_one(model, object_id)
        for name, value in refs.items():
            if getattr(row, name) != value:
                setattr(row, name, value)


async def fail_run(
    sessionmaker: async_sessionmaker[AsyncSession], run_id: str, error: Exception
) -> None:
    """Put the run in the exception queue (business, auth or contract failure)."""
    async with sessionmaker.begin() as session:
        Engine.mark_failed(await session.get_one(WorkflowRunRow, run_id), error)
    if isinstance(error, LedgergateError):
        attach_run(error, run_id)


async def step_succeeded(session: AsyncSession, run_id: str, name: str) -> bool:
    """Whether the run got past its step `name`."""
    found = await session.scalar(
        select(WorkflowStepRow.id).where(
            WorkflowStepRow.run_id == run_id,
            WorkflowStepRow.name == name,
            WorkflowStepRow.status == StepStatus.SUCCEEDED,
        )
    )
    return found is not None
