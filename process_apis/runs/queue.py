"""The exception queue: runs waiting for a retry or for a person.

`pending_retry` runs (transient failures) are retried by the replay worker when
due; `failed` runs (business, auth or contract) wait for an operator to fix and
replay, resolve or discard them; a `running` run whose lease has expired was
abandoned by a dead process and is picked up again. Claims lock rows with
`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several workers never take the same run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import NotFound
from core.models.base import utcnow
from core.models.workflow_run import QUEUE_STATUSES, RunStatus, WorkflowRunRow
from process_apis.runs.engine import RUN_LEASE
from process_apis.runs.errors import RunNotReplayable
from process_apis.runs.repository import is_leased

QUEUED = (RunStatus.PENDING_RETRY, RunStatus.FAILED)
REPLAYABLE = (RunStatus.PENDING_RETRY, RunStatus.FAILED, RunStatus.RUNNING)


def due_condition(now: datetime) -> ColumnElement[bool]:
    """Runs the worker may take: transient ones that are due, and abandoned ones."""
    return and_(
        WorkflowRunRow.status.in_((RunStatus.PENDING_RETRY, RunStatus.RUNNING)),
        WorkflowRunRow.next_attempt_at <= now,
    )


def queue_condition(now: datetime) -> ColumnElement[bool]:
    """What the exception queue shows: queued runs, and running ones whose lease expired."""
    return and_(
        QUEUE_STATUSES,
        or_(
            WorkflowRunRow.status.in_(QUEUED),
            and_(WorkflowRunRow.status == RunStatus.RUNNING, WorkflowRunRow.next_attempt_at <= now),
        ),
    )


def check_replayable(run: WorkflowRunRow) -> None:
    """An operator may act on a queued run, or on a running one nobody holds."""
    if run.status not in REPLAYABLE or is_leased(run):
        raise RunNotReplayable(f"run {run.id} is {run.status}", run_status=run.status)


async def claim_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    limit: int,
    lease: timedelta = RUN_LEASE,
    now: datetime | None = None,
) -> list[tuple[str, str]]:
    """Lease up to `limit` due runs to this worker; returns (run id, workflow) pairs."""
    now = now or utcnow()
    async with sessionmaker.begin() as session:
        runs: Sequence[WorkflowRunRow] = (
            await session.scalars(
                select(WorkflowRunRow)
                .where(due_condition(now))
                .order_by(WorkflowRunRow.next_attempt_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for run in runs:
            _lease(run, now + lease)
        return [(run.id, run.workflow) for run in runs]


async def claim(
    sessionmaker: async_sessionmaker[AsyncSession], run_id: str, *, lease: timedelta = RUN_LEASE
) -> str:
    """Lease one run for an operator's replay; returns its workflow."""
    async with sessionmaker.begin() as session:
        run = await session.scalar(
            select(WorkflowRunRow).where(WorkflowRunRow.id == run_id).with_for_update()
        )
        if run is None:
            raise NotFound(f"no workflow run {run_id}")
        check_replayable(run)
        _lease(run, utcnow() + lease)
        return run.workflow


def _lease(run: WorkflowRunRow, until: datetime) -> None:
    run.status = RunStatus.RUNNING
    run.next_attempt_at = until
