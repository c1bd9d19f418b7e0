"""The workflow engine: runs and steps persisted around every backend call.

A run is committed before any backend is called; each step is committed as
`started` before its call and as `succeeded`/`failed` after it, so a crash at any
point leaves a record of how far the run got. No transaction is open while a
backend call is awaited. Steps must be idempotent downstream (each carries a key
derived from the run), so a resumed run simply executes its steps again.

An engine made with `hold_outcomes` writes a step's success with its next write
instead of in a transaction of its own: with the next step's `started` (so both land
in one commit), with a deferral or failure, or in the workflow's closing transaction
through `write_held`. Nothing is called in between, so a crash there leaves the step
`started`, exactly as a crash during its call would, and a resumed run repeats it.
A step answered without any backend call (a cached or already known result) is
recorded with `record_step`, held the same way: there is no call to guard.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from core.errors import ErrorClass, LedgergateError, NotFound
from core.ids import new_id
from core.metrics import WORKFLOW_RUNS
from core.models.base import utcnow
from core.models.workflow_run import RunStatus, StepStatus, WorkflowRunRow, WorkflowStepRow
from system_apis.errors import BackendError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A `running` run whose lease has passed was abandoned (its process died): resumable.
RUN_LEASE = timedelta(minutes=2)
RESUMABLE = frozenset({RunStatus.PENDING_RETRY, RunStatus.RUNNING})


def retry_delay(
    attempts: int, *, base_seconds: float = 30.0, cap_seconds: float = 3600.0
) -> timedelta:
    """Exponential backoff for queued runs: 30 s, 60 s, 2 min, ... capped at an hour."""
    return timedelta(seconds=min(cap_seconds, base_seconds * 2 ** max(0, attempts - 1)))


def digest(payload: Any) -> str:
    """A stable SHA-256 of a JSON-able payload or pydantic model."""
    if isinstance(payload, BaseModel):
        payload = payload.model_dump(mode="json")
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def error_class_of(error: Exception) -> ErrorClass:
    if isinstance(error, BackendError):
        return error.error_class
    if isinstance(error, LedgergateError) and 400 <= error.status_code < 500:
        return ErrorClass.BUSINESS
    return ErrorClass.CONTRACT


@dataclass(frozen=True)
class _HeldStep:
    """A step's success not yet written: its row's id, or its whole record (`record_step`)."""

    run_id: str
    name: str
    values: dict[str, Any]
    step_id: str | None = None


class Engine:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, hold_outcomes: bool = False
    ) -> None:
        self.sessionmaker = sessionmaker
        self.hold_outcomes = hold_outcomes
        self._held: dict[str, list[_HeldStep]] = {}  # by run id

    @staticmethod
    def new_run(
        *,
        workflow: str,
        subject_id: str,
        params: dict[str, Any],
        correlation_id: str | None,
        client_id: str | None,
    ) -> WorkflowRunRow:
        """A run row to add in the caller's transaction (with its subject's own changes)."""
        now = utcnow()
        return WorkflowRunRow(
            id=new_id("workflow_run"),
            workflow=workflow,
            subject_id=subject_id,
            status=RunStatus.RUNNING,
            params=params,
            attempts=1,
            next_attempt_at=now + RUN_LEASE,
            correlation_id=correlation_id,
            client_id=client_id,
        )

    @staticmethod
    def resume(run: WorkflowRunRow, *, correlation_id: str | None) -> None:
        """Take a queued or abandoned run back into `running` for one more attempt."""
        run.status = RunStatus.RUNNING
        run.attempts += 1
        run.next_attempt_at = utcnow() + RUN_LEASE
        run.correlation_id = correlation_id or run.correlation_id

    async def step(
        self,
        run_id: str,
        name: str,
        sequence: int,
        call: Callable[[], Awaitable[T]],
        *,
        request: Any,
        downstream_key: str | None = None,
        backend_ref: Callable[[T], str | None] | None = None,
    ) -> T:
        """Persist the step, await `call` with no transaction open, persist its outcome."""
        async with self.transaction(run_id) as session:
            step = await _step_row(session, run_id, name)
            step.sequence = sequence
            step.status = StepStatus.STARTED
            step.request_digest = digest(request)
            step.downstream_key = downstream_key
            step.attempts = (step.attempts or 0) + 1
            step.started_at = utcnow()
            step.finished_at = None
            step_id = step.id
        started = time.perf_counter()
        try:
            result = await call()
        except Exception as error:
            await self._finish_step(
                run_id,
                step_id,
                status=StepStatus.FAILED,
                error_class=error_class_of(error),
                error_detail=str(error),
            )
            raise
        outcome = result.model_dump(mode="json") if isinstance(result, BaseModel) else None
        await self._hold(
            _HeldStep(
                run_id=run_id,
                name=name,
                step_id=step_id,
                values={
                    "status": StepStatus.SUCCEEDED,
                    "outcome": outcome,
                    "backend_ref": backend_ref(result) if backend_ref else None,
                    "finished_at": utcnow(),
                },
            )
        )
        logger.info(
            "workflow.step.succeeded",
            extra={
                "run_id": run_id,
                "step": name,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
        return result

    async def record_step(
        self,
        run_id: str,
        name: str,
        sequence: int,
        *,
        request: Any,
        outcome: dict[str, Any],
        downstream_key: str | None = None,
        backend_ref: str | None = None,
    ) -> None:
        """Record a step answered without a backend call as succeeded (held, see above)."""
        now = utcnow()
        await self._hold(
            _HeldStep(
                run_id=run_id,
                name=name,
                values={
                    "sequence": sequence,
                    "status": StepStatus.SUCCEEDED,
                    "request_digest": digest(request),
                    "downstream_key": downstream_key,
                    "backend_ref": backend_ref,
                    "outcome": outcome,
                    "error_class": None,
                    "error_detail": None,
                    "started_at": now,
                    "finished_at": now,
                },
            )
        )
        logger.info("workflow.step.recorded", extra={"run_id": run_id, "step": name})

    async def write_held(self, session: AsyncSession, run_id: str) -> None:
        """Write the run's held step outcomes in `session`'s transaction (the caller commits)."""
        for write in self._held.pop(run_id, []):
            if write.step_id is not None:
                await session.execute(
                    update(WorkflowStepRow)
                    .where(WorkflowStepRow.id == write.step_id)
                    .values(**write.values)
                    .execution_options(synchronize_session=False)
                )
                continue
            step = await _step_row(session, write.run_id, write.name)
            for key, value in write.values.items():
                setattr(step, key, value)
            step.attempts = (step.attempts or 0) + 1

    @asynccontextmanager
    async def transaction(self, run_id: str) -> AsyncIterator[AsyncSession]:
        """A transaction that first writes the run's held step outcomes; committed on exit."""
        async with self.sessionmaker.begin() as session:
            await self.write_held(session, run_id)
            yield session

    async def _hold(self, write: _HeldStep) -> None:
        self._held.setdefault(write.run_id, []).append(write)
        if not self.hold_outcomes:
            async with self.transaction(write.run_id):
                pass

    async def _finish_step(self, run_id: str, step_id: str, **values: Any) -> None:
        async with self.transaction(run_id) as session:
            step = await session.get_one(WorkflowStepRow, step_id)
            for key, value in values.items():
                setattr(step, key, value)
            step.finished_at = utcnow()

    async def defer(self, run_id: str, error: Exception) -> datetime:
        """Queue the run for a later retry (transient failure); returns when it is due."""
        async with self.transaction(run_id) as session:
            run = await session.get_one(WorkflowRunRow, run_id)
            run.status = RunStatus.PENDING_RETRY
            run.error_class = error_class_of(error)
            run.error_type = error.type_uri() if isinstance(error, LedgergateError) else None
            run.error_detail = str(error)
            run.next_attempt_at = utcnow() + retry_delay(run.attempts)
            WORKFLOW_RUNS.labels(run.workflow, "deferred", run.error_class).inc()
            logger.warning(
                "workflow.run.deferred",
                extra={"run_id": run_id, "workflow": run.workflow, "error": str(error)},
            )
            return run.next_attempt_at

    @staticmethod
    def mark_failed(run: WorkflowRunRow, error: Exception) -> None:
        """Put the run in the exception queue for a person: business, auth or contract."""
        run.status = RunStatus.FAILED
        run.error_class = error_class_of(error)
        run.error_type = error.type_uri() if isinstance(error, LedgergateError) else None
        run.error_detail = str(error)
        run.next_attempt_at = None
        run.finished_at = utcnow()
        WORKFLOW_RUNS.labels(run.workflow, "failed", run.error_class).inc()
        logger.warning(
            "workflow.run.failed",
            extra={"run_id": run.id, "workflow": run.workflow, "error_class": run.error_class},
        )

    @staticmethod
    def mark_succeeded(run: WorkflowRunRow, result: dict[str, Any]) -> None:
        run.status = RunStatus.SUCCEEDED
        run.result = result
        run.error_class = run.error_type = run.error_detail = None
        run.next_attempt_at = None
        run.finished_at = utcnow()
        WORKFLOW_RUNS.labels(run.workflow, "succeeded", "").inc()


async def _step_row(session: AsyncSession, run_id: str, name: str) -> WorkflowStepRow:
    """The run's step of that name: the row of an earlier attempt, or a new one."""
    step = await session.scalar(
        select(WorkflowStepRow).where(
            WorkflowStepRow.run_id == run_id, WorkflowStepRow.name == name
        )
    )
    if step is None:
        step = WorkflowStepRow(id=new_id("workflow_step"), run_id=run_id, name=name)
        session.add(step)
    return step


def run_url(run_id: str) -> str:
    return f"/v1/runs/{run_id}"


def attach_run(error: LedgergateError, run_id: str) -> None:
    """Point a problem at the failed run, so the caller can follow it."""
    error.extensions.setdefault("run_id", run_id)
    error.extensions.setdefault("run_url", run_url(run_id))


async def fail_in_session(session: AsyncSession, run: WorkflowRunRow, error: Exception) -> None:
    """Put the run in the exception queue (committing `session`) and point the problem at it."""
    Engine.mark_failed(run, error)
    await session.commit()
    if isinstance(error, LedgergateError):
        attach_run(error, run.id)


def is_leased(run: WorkflowRunRow) -> bool:
    """A `running` run whose lease has not passed: some process is executing it now."""
    return (
        run.status == RunStatus.RUNNING
        and run.next_attempt_at is not None
        and run.next_attempt_at > utcnow()
    )


def take_run(
    session: AsyncSession,
    latest: WorkflowRunRow | None,
    *,
    workflow: str,
    subject_id: str,
    params: dict[str, Any],
    correlation_id: str | None,
    client_id: str | None,
    claimed_run_id: str | None,
    busy: Callable[[WorkflowRunRow], LedgergateError],
) -> WorkflowRunRow:
    """The subject's `latest` run resumed when queued or failed, else a new run in `session`.

    A run another process holds now is refused with `busy(run)` (a 409 problem); the
    replayer names the run it has claimed as `claimed_run_id`.
    """
    if latest is not None and latest.id != claimed_run_id and is_leased(latest):
        raise busy(latest)
    if latest is not None and (latest.status in RESUMABLE or latest.status == RunStatus.FAILED):
        Engine.resume(latest, correlation_id=correlation_id)
        latest.params = params
        return latest
    run = Engine.new_run(
        workflow=workflow,
        subject_id=subject_id,
        params=params,
        correlation_id=correlation_id,
        client_id=client_id,
    )
    session.add(run)
    return run


async def get_run(session: AsyncSession, run_id: str) -> WorkflowRunRow:
    run = await session.scalar(
        select(WorkflowRunRow)
        .where(WorkflowRunRow.id == run_id)
        .options(selectinload(WorkflowRunRow.steps))
    )
    if run is None:
        raise NotFound(f"no workflow run {run_id}")
    return run
