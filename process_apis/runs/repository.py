"""SQL for workflow runs and their steps."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Insert,
    bindparam,
    func,
    insert,
    inspect,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import make_transient_to_detached, selectinload

from core.db import connection_of, table_of, upsert_into
from core.errors import NotFound
from core.folded import Write, execute_folded
from core.ids import new_id
from core.models.base import utcnow
from core.models.workflow_run import RunStatus, StepStatus, WorkflowRunRow, WorkflowStepRow
from core.versioned import leave_written, versioned_write
from events.outbox import record_all, recording
from process_apis.runs.queue_events import queue_events


def is_leased(run: WorkflowRunRow) -> bool:
    """A `running` run whose lease has not passed: some process is executing it now."""
    return (
        run.status == RunStatus.RUNNING
        and run.next_attempt_at is not None
        and run.next_attempt_at > utcnow()
    )


async def get_run(session: AsyncSession, run_id: str) -> WorkflowRunRow:
    """A run with its steps, or 404."""
    run = await session.scalar(
        select(WorkflowRunRow)
        .where(WorkflowRunRow.id == run_id)
        .options(selectinload(WorkflowRunRow.steps))
    )
    if run is None:
        raise NotFound(f"no workflow run {run_id}")
    return run


# Built once (each execution hits its memoized cache key and compiled form).
_LATEST_RUN = (
    select(WorkflowRunRow)
    .where(
        WorkflowRunRow.workflow == bindparam("workflow"),
        WorkflowRunRow.subject_id == bindparam("subject_id"),
    )
    .order_by(WorkflowRunRow.created_at.desc(), WorkflowRunRow.id.desc())
    .limit(1)
)


async def latest_run(
    session: AsyncSession, *, workflow: str, subject_id: str
) -> WorkflowRunRow | None:
    """The subject's most recent run of `workflow`."""
    found = await session.execute(_LATEST_RUN, {"workflow": workflow, "subject_id": subject_id})
    return found.scalar()


async def latest_runs(
    session: AsyncSession, *, workflow: str, subject_ids: Sequence[str]
) -> dict[str, WorkflowRunRow]:
    """The most recent run of `workflow` per subject, in one query for a whole page."""
    runs = await session.scalars(
        select(WorkflowRunRow)
        .where(WorkflowRunRow.workflow == workflow, WorkflowRunRow.subject_id.in_(subject_ids))
        .order_by(WorkflowRunRow.created_at, WorkflowRunRow.id)
    )
    return {run.subject_id: run for run in runs}


async def succeeded_step(session: AsyncSession, run_id: str, name: str) -> WorkflowStepRow | None:
    """The run's step `name`, if it succeeded (what it answered is its `outcome`)."""
    step: WorkflowStepRow | None = await session.scalar(
        select(WorkflowStepRow).where(
            WorkflowStepRow.run_id == run_id,
            WorkflowStepRow.name == name,
            WorkflowStepRow.status == StepStatus.SUCCEEDED,
        )
    )
    return step


async def count_runs(
    session: AsyncSession, *, workflow: str, subject_id: str, status: RunStatus
) -> int:
    """How many runs of `workflow` on the subject ended in `status`."""
    count = await session.scalar(
        select(func.count())
        .select_from(WorkflowRunRow)
        .where(
            WorkflowRunRow.workflow == workflow,
            WorkflowRunRow.subject_id == subject_id,
            WorkflowRunRow.status == status,
        )
    )
    return count or 0


STEPS = table_of(WorkflowStepRow)
RUNS = table_of(WorkflowRunRow)


@cache
def _upsert_step(dialect: str, columns: tuple[str, ...], *, returning_id: bool = False) -> Insert:
    """INSERT a step, or on its (run, name) UPDATE `columns` and count one more attempt
    (built once per dialect and columns: a posting's steps reuse the same few)."""
    statement = upsert_into(STEPS, dialect)
    changes: dict[str, Any] = {name: statement.excluded[name] for name in columns}
    changes["attempts"] = STEPS.c.attempts + 1
    upsert = statement.on_conflict_do_update(
        index_elements=[STEPS.c.run_id, STEPS.c.name], set_=changes
    )
    return upsert.returning(STEPS.c.id) if returning_id else upsert


def step_start(dialect: str, run_id: str, name: str, **values: Any) -> Write:
    """The run's step `name` marked started (its row inserted, or an earlier attempt's
    updated), answering the row's id."""
    statement = _upsert_step(dialect, tuple(values), returning_id=True)
    row = {"id": new_id("workflow_step"), "run_id": run_id, "name": name, "attempts": 1}
    return Write(statement, [{**row, **values}])


def step_records(
    dialect: str, run_id: str, steps: Sequence[tuple[str, dict[str, Any]]]
) -> list[Write]:
    """Whole step records (`(name, values)`, every one with the same columns) upserted, as
    one write (none without steps)."""
    if not steps:
        return []
    rows = [
        {"id": new_id("workflow_step"), "run_id": run_id, "name": name, "attempts": 1, **values}
        for name, values in steps
    ]
    return [Write(_upsert_step(dialect, tuple(steps[0][1])), rows)]


# Built once, as every statement below (each execution hits its memoized cache key and
# compiled form; a statement built per call computes its cache key again).
_UPDATE_STEP = update(STEPS).where(STEPS.c.id == bindparam("step_id"))
_RENEW_LEASE = (
    update(RUNS)
    .where(RUNS.c.id == bindparam("run_id"), RUNS.c.status == RunStatus.RUNNING)
    .values(next_attempt_at=bindparam("until", type_=RUNS.c.next_attempt_at.type))
)


def step_updates(changes: Sequence[tuple[str, dict[str, Any]]]) -> list[Write]:
    """`(step id, values)` set on existing steps, one write per set of columns."""
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for step_id, values in changes:
        by_columns.setdefault(tuple(values), []).append({"step_id": step_id, **values})
    return [Write(_UPDATE_STEP, rows) for rows in by_columns.values()]  # SET: what rows name


def run_writes(dialect: str, run: WorkflowRunRow, columns: Sequence[str]) -> list[Write]:
    """The write of `columns` of a run as its caller changed them, under the run's version
    check as the ORM makes it (`core.versioned.versioned_write`), then the outbox's write of
    the queue's events of its status change, as a flush of the row records them
    (`queue_events`). Once sent, `leave_written(run, writes[0])` leaves the run as written."""
    events = list(queue_events(run))
    return [versioned_write(run, columns), *recording(dialect, events)]


async def write_run(
    session: AsyncSession | AsyncConnection, run: WorkflowRunRow, columns: Sequence[str]
) -> None:
    """`run_writes` sent in `session`'s transaction (a session's or a connection's)."""
    connection = await connection_of(session)
    writes = run_writes(connection.dialect.name, run, columns)
    await execute_folded(connection, writes)
    leave_written(run, writes[0])


# Built once (each execution hits its memoized cache key and compiled form).
_INSERT_RUN = insert(RUNS)


async def taken_run(session: AsyncSession, run: WorkflowRunRow, columns: Sequence[str]) -> Write:
    """The write of a run taken without a session, to send with the run's next write: its
    insert when new, with the defaults a flush would give it, else `columns` under its
    version check (as `write_run`). The queue's events of it are recorded now, in
    `session`'s transaction; the run is left detached as written."""
    events = list(queue_events(run))
    if inspect(run).transient:
        write = _inserted(run)
    else:
        write = versioned_write(run, columns)
        leave_written(run, write)
        if run in session:  # a run loaded in it, not one read detached
            session.expunge(run)
    await record_all(session, events)
    return write


_RUN_COLUMNS = tuple(RUNS.c.keys())
_UNSET_RUN = dict.fromkeys(_RUN_COLUMNS)  # every column of a run, None


def _inserted(run: WorkflowRunRow) -> Write:
    """A new run's insert; the run is left detached as it stores it."""
    now = utcnow()
    held = run.__dict__  # the transient run's attribute values, read without instrumentation
    # Only the columns set on it, as a flush: an unset JSON column is SQL NULL, not `null`.
    values = {name: held[name] for name in _RUN_COLUMNS if name in held}
    values.update(version=1, created_at=now, updated_at=now)
    # Every column as stored; `make_transient_to_detached` then commits what the instance
    # holds (no change left pending), as `set_committed_value` would one column at a time.
    held.update(_UNSET_RUN, **values)
    make_transient_to_detached(run)
    return Write(_INSERT_RUN, [values])


async def renew_lease(connection: AsyncConnection, run_id: str, until: datetime) -> None:
    """Extend a `running` run's lease; a run no longer running (queued, closed) keeps its time."""
    await connection.execute(_RENEW_LEASE, {"run_id": run_id, "until": until})


def asynchronous_commit(dialect: str) -> list[Write]:
    """What lets a transaction commit without waiting for its WAL to reach disk
    (PostgreSQL's `synchronous_commit = off`, for that transaction only): a database crash
    may lose it, nothing else. None on SQLite, which keeps its own setting."""
    return [Write(_ASYNCHRONOUS_COMMIT, [{}])] if dialect == "postgresql" else []


# `SET LOCAL`, as a value a folded statement selects (`core.folded`).
_ASYNCHRONOUS_COMMIT = select(
    func.set_config(literal_column("'synchronous_commit'"), literal_column("'off'"), true())
)
