"""The workflow engine: runs and steps persisted around every backend call.

A run is committed before any backend is called; each step is committed as
`started` before its call and as `succeeded`/`failed` after it, so a crash at any
point leaves a record of how far the run got. No transaction is open while a
backend call is awaited. Steps must be idempotent downstream (each carries a key
derived from the run), so a resumed run simply executes its steps again.

A run is leased to the process executing it: the lease is set when the run is taken
and renewed in the transaction that records a step's start, so a long run is never
taken over by another worker while its holder is still working on it. A handle that
set or was told the lease less than a tenth of a lease ago leaves it (a posting's
steps follow each other within milliseconds): every step still starts with at least
nine tenths of a lease ahead of it.

The hot path speaks SQL Core (`process_apis.runs.repository`), not the ORM's unit of
work: a step's start is one upsert on (run, name), held outcomes one statement each; on
PostgreSQL the writes of one transaction (held writes, a step's start and its commit's
setting, a closing's writes) go as one statement (`core.folded`), unless two of them write
the same step. A transaction of the step path that is one statement (a step's start without a
lease to renew, a step's failure) goes on PostgreSQL without `BEGIN` and `COMMIT`: the
database's implicit transaction of that statement (`core.driver.first`'s `alone`).

A workflow declares its steps once (their order numbers them) and records them
through a per-run handle, `engine.run(run_id)`.

An engine made with `hold_outcomes` writes a step's success with its next write
instead of in a transaction of its own: with the next step's `started` (so both land
in one commit), with a deferral or failure, or in the workflow's closing transaction
(`write_held` in a session's, or with the closing's own writes, `closing_writes`). Nothing is
called in between, so a crash there leaves the step `started`, exactly as a crash during
its call would, and a resumed run repeats it.
A step answered without any backend call (a cached or already known result) is
recorded with `RunHandle.record`, held the same way: there is no call to guard.

A handle may be given the session that took its run with the transaction still open
(`engine.run(run_id, opening=session)`): its first write (a step's start, before any
backend call) joins that transaction and commits it, so taking the run and starting its
first step cost one commit, and the run is still committed before any backend is called.
The caller may `hold` the writes of its taking (the run's own among them) in that session
instead of sending them: they go with that first write, in its statement on PostgreSQL;
a caller that commits the session itself sends them first with `write_held`.

With `asynchronous_step_starts` (the invoice posting's engine, whose recovery is tested
for it), a step's start in a transaction of its own commits asynchronously on PostgreSQL
(`synchronous_commit = off`, that transaction only): losing it in a database crash leaves
the steps as a crash of the process just before that commit does (the earlier step
`started`), though the step's own call may have reached the backend since: the posting's
steps are idempotent downstream, and a resumed run looks its document up first. The run's
taking (a lost run would make a retry a first attempt, which skips its lookups) and every
other transaction commit synchronously; a later synchronous commit flushes the earlier
ones. Other workflows keep every commit synchronous.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, cached_property
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from core.errors import ErrorClass, LedgergateError
from core.folded import Write, alone_possible, execute_folded
from core.ids import new_id
from core.metrics import workflow_runs
from core.models.base import utcnow
from core.models.workflow_run import RunStatus, StepStatus, WorkflowRunRow
from core.rows import transient
from process_apis.runs import (
    queue_events,  # noqa: F401 - records runs entering/leaving the queue
    run_log,
)
from process_apis.runs.errors import RunInProgress
from process_apis.runs.repository import (
    asynchronous_commit,
    is_leased,
    renew_lease,
    step_records,
    step_start,
    step_updates,
    taken_run,
)
from process_apis.runs.schemas import run_url
from system_apis.errors import BackendError

T = TypeVar("T")

# A `running` run whose lease has passed was abandoned (its process died): resumable.
RUN_LEASE = timedelta(minutes=2)
RESUMABLE = frozenset({RunStatus.PENDING_RETRY, RunStatus.RUNNING, RunStatus.FAILED})
# What `take` changes on a run it resumes.
TAKEN_COLUMNS = ("status", "attempts", "next_attempt_at", "correlation_id", "params")
# A lease set less than this share of a lease ago is not renewed at a step's start.
LEASE_RENEWAL_SHARE = 0.1
# Where a session keeps the writes held in its transaction (`Engine.hold`).
_HELD_WRITES = "engine.held_writes"


def retry_delay(
    attempts: int, *, base_seconds: float = 30.0, cap_seconds: float = 3600.0
) -> timedelta:
    """Exponential backoff for queued runs: 30 s, 60 s, 2 min, ... capped at an hour."""
    return timedelta(seconds=min(cap_seconds, base_seconds * 2 ** max(0, attempts - 1)))


# `json.dumps(..., sort_keys=True, separators=(",", ":"), default=str)`, built once: dumps
# builds an encoder per call when given options.
_DIGESTED = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def digest(payload: Any) -> str:
    """A stable SHA-256 of a JSON-able payload or pydantic model: of its sorted, compact
    JSON (ASCII, as `json.dumps` writes it)."""
    if isinstance(payload, BaseModel):
        payload = payload.model_dump(mode="json")
    return hashlib.sha256(_DIGESTED.encode(payload).encode()).hexdigest()


def error_class_of(error: Exception) -> ErrorClass:
    if isinstance(error, BackendError):
        return error.error_class
    if isinstance(error, LedgergateError) and 400 <= error.status_code < 500:
        return ErrorClass.BUSINESS
    return ErrorClass.CONTRACT


def attach_run(error: LedgergateError, run_id: str) -> None:
    """Point a problem at the failed run, so the caller can follow it."""
    error.extensions.setdefault("run_id", run_id)
    error.extensions.setdefault("run_url", run_url(run_id))


def error_type_of(error: Exception) -> str | None:
    """The problem type URI of a gateway error; none for anything else."""
    return error.type_uri() if isinstance(error, LedgergateError) else None


def mark_failed(run: WorkflowRunRow, error: Exception) -> None:
    """Put the run in the exception queue for a person: business, auth or contract."""
    run.status = RunStatus.FAILED
    run.error_class = error_class_of(error)
    run.error_type = error_type_of(error)
    run.error_detail = str(error)
    run.next_attempt_at = None
    run.finished_at = utcnow()
    workflow_runs(run.workflow, "failed", run.error_class).inc()
    run_log.run_ended(run, "failed", logging.WARNING, error_class=run.error_class)


def mark_rejected(run: WorkflowRunRow, error: LedgergateError) -> None:
    """Close the run as answered: its waiting caller got the problem and can correct it."""
    run.status = RunStatus.REJECTED
    run.error_class = error_class_of(error)
    run.error_type = error.type_uri()
    run.error_detail = str(error)
    run.next_attempt_at = None
    run.finished_at = utcnow()
    workflow_runs(run.workflow, "rejected", run.error_class).inc()
    run_log.run_ended(run, "rejected", error_class=run.error_class)


def rejects(error: Exception, *, answered: bool) -> bool:
    """Whether a failure closes its run `rejected` rather than queueing it: a caller waits
    for the answer (`answered`) and can correct the request itself."""
    return answered and isinstance(error, LedgergateError) and error.caller_correctable


def close_failed(run: WorkflowRunRow, error: Exception, *, answered: bool = False) -> None:
    """`mark_rejected` when the failure `rejects`, else `mark_failed` (the queue)."""
    if rejects(error, answered=answered):
        assert isinstance(error, LedgergateError)
        mark_rejected(run, error)
    else:
        mark_failed(run, error)


# What closing a run writes: `mark_succeeded`, or `close_failed` and the run's result.
CLOSED_COLUMNS = (
    "status",
    "result",
    "error_class",
    "error_type",
    "error_detail",
    "next_attempt_at",
    "finished_at",
)


def mark_succeeded(run: WorkflowRunRow, result: dict[str, Any]) -> None:
    run.status = RunStatus.SUCCEEDED
    run.result = result
    run.error_class = run.error_type = run.error_detail = None
    run.next_attempt_at = None
    run.finished_at = utcnow()
    workflow_runs(run.workflow, "succeeded", "").inc()
    run_log.run_ended(run, "succeeded")


async def fail_in_session(
    session: AsyncSession, run: WorkflowRunRow, error: Exception, *, answered: bool = False
) -> None:
    """Put the run in the exception queue (committing `session`) and point the problem at it;
    a problem its waiting caller can correct (`answered`) closes it `rejected` instead."""
    close_failed(run, error, answered=answered)
    await session.commit()
    if isinstance(error, LedgergateError):
        attach_run(error, run.id)


@asynccontextmanager
async def failing(session: AsyncSession, run: WorkflowRunRow, **names: str) -> AsyncIterator[None]:
    """A refusal raised inside (a closed period, say) fails `run` in `session` before it
    reaches the caller; `names` (`payment_id=...`) are added to the problem."""
    try:
        yield
    except LedgergateError as error:
        for name, value in names.items():
            error.extensions.setdefault(name, value)
        await fail_in_session(session, run, error)
        raise


@cache
def _numbered(steps: tuple[str, ...]) -> dict[str, int]:
    """Each declared step's number, its place among `steps` (the first of a name declared
    twice), worked out once per workflow (an engine is made per request)."""
    numbers: dict[str, int] = {}
    for number, name in enumerate(steps, 1):
        numbers.setdefault(name, number)
    return numbers


class _Writing:
    """A transaction of the step path, which speaks SQL Core (its writes go through
    `Engine._send`), committed on exit unless its block raised: `opening`'s (its changes
    flushed first), else a connection's with no ORM session around it, begun by its first
    statement unless that went alone (`_send`'s `whole`), and closed here: `async with`
    would close it in a task of its own (shielded from cancellation), some 60 Python calls
    more, as the closing's connection is closed (`Engine.closing`). A class, not a
    generator's context: entered and left without the generator's machinery at every
    step's start."""

    def __init__(self, bind: AsyncEngine, opening: AsyncSession | None) -> None:
        self._opening = opening
        self._connection = bind.connect() if opening is None else None

    async def __aenter__(self) -> AsyncConnection:
        if self._connection is not None:
            return await self._connection.start()
        assert self._opening is not None
        await self._opening.flush()
        return await self._opening.connection()

    async def __aexit__(self, error_type: type[BaseException] | None, *error: object) -> None:
        connection = self._connection
        if connection is None:
            if error_type is None:
                assert self._opening is not None
                await self._opening.commit()
            return
        try:
            if error_type is None and connection.in_transaction():
                await connection.commit()
        finally:
            await connection.close()


@dataclass(frozen=True)
class _HeldStep:
    """A step's success not yet written: its row's id, or its whole record (`record`)."""

    run_id: str
    name: str
    values: dict[str, Any]
    step_id: str | None = None


class Engine:
    """Runs of one workflow: taking them, their steps, and how they end."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        steps: Sequence[str],
        lease: timedelta = RUN_LEASE,
        hold_outcomes: bool = False,
        asynchronous_step_starts: bool = False,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.steps = tuple(steps)
        self._numbers = _numbered(self.steps)
        self.lease = lease
        self.hold_outcomes = hold_outcomes
        self.asynchronous_step_starts = asynchronous_step_starts
        self._held: dict[str, list[_HeldStep]] = {}  # by run id

    @cached_property
    def dialect(self) -> str:
        """The name of the database's dialect (`postgresql`, `sqlite`), read once: a
        connection's `dialect` is two calls each time."""
        bind: AsyncEngine = self.sessionmaker.kw["bind"]
        return bind.dialect.name

    def run(
        self,
        run_id: str,
        *,
        leased_until: datetime | None = None,
        opening: AsyncSession | None = None,
    ) -> RunHandle:
        """The handle through which one run records its steps; `leased_until`: the lease
        the caller has just set (when it took the run), so the first step need not renew it;
        `opening`: the caller's session, its transaction still open (see the module
        docstring)."""
        return RunHandle(self, run_id, leased_until=leased_until, opening=opening)

    def new_run(
        self,
        *,
        workflow: str,
        subject_id: str,
        params: dict[str, Any],
        correlation_id: str | None,
        client_id: str | None,
        legal_entity_id: str | None,
    ) -> WorkflowRunRow:
        """A run row to add in the caller's transaction (with its subject's own changes);
        `legal_entity_id`: the subject's, when it has one at hand (the queue filters on it).
        Built as `core.rows.transient` builds it: the posting makes one per request."""
        return transient(
            WorkflowRunRow,
            id=new_id("workflow_run"),
            workflow=workflow,
            subject_id=subject_id,
            status=RunStatus.RUNNING,
            params=params,
            attempts=1,
            next_attempt_at=utcnow() + self.lease,
            correlation_id=correlation_id,
            client_id=client_id,
            legal_entity_id=legal_entity_id,
        )

    def resume(self, run: WorkflowRunRow, *, correlation_id: str | None) -> None:
        """Take a queued or abandoned run back into `running` for one more attempt."""
        run.status = RunStatus.RUNNING
        run.attempts += 1
        run.next_attempt_at = utcnow() + self.lease
        run.correlation_id = run.correlation_id or correlation_id

    def take(
        self,
        session: AsyncSession | None,
        latest: WorkflowRunRow | None,
        *,
        workflow: str,
        subject_id: str,
        params: dict[str, Any],
        correlation_id: str | None,
        client_id: str | None,
        claimed_run_id: str | None,
        legal_entity_id: str | None,
    ) -> WorkflowRunRow:
        """The subject's `latest` run resumed when queued or failed, else a new run in `session`.

        A run another process holds now is refused with `RunInProgress` (409); the
        replayer names the run it has claimed as `claimed_run_id`. Without a session the
        caller holds the run's write (`hold_taken`) instead of a flush of `session`.
        """
        if latest is not None and latest.id != claimed_run_id and is_leased(latest):
            raise RunInProgress(
                f"run {latest.id} is working on {subject_id} now; retry shortly",
                run_id=latest.id,
                run_url=run_url(latest.id),
            )
        if latest is not None and latest.status in RESUMABLE:
            self.resume(latest, correlation_id=correlation_id)
            latest.params = params
            return latest
        run = self.new_run(
            workflow=workflow,
            subject_id=subject_id,
            legal_entity_id=legal_entity_id,
            params=params,
            correlation_id=correlation_id,
            client_id=client_id,
        )
        if session is not None:
            session.add(run)
        return run

    async def hold_taken(self, session: AsyncSession, run: WorkflowRunRow) -> None:
        """Hold the write of a run `take` returned without a session (inserted when new, else
        its resumption under its version check) in `session` (`hold`); the queue's events of
        it are recorded now. The run is left detached as written: nothing of it is left for
        a flush."""
        self.hold(session, [await taken_run(session, run, TAKEN_COLUMNS)])

    def hold(self, session: AsyncSession, writes: Sequence[Write]) -> None:
        """Writes of `session`'s open transaction, sent with the next write the engine makes
        in it: the first step's start of `run(run_id, opening=session)`, or `write_held`
        before the caller commits. A session given up before that drops them with it."""
        session.info.setdefault(_HELD_WRITES, []).extend(writes)

    async def load(self, run_id: str) -> WorkflowRunRow:
        """A run as stored (its session closed again), for a resume to start from."""
        async with self.sessionmaker() as session:
            return await session.get_one(WorkflowRunRow, run_id)

    def sequence(self, name: str) -> int:
        """A step's number: its place among the workflow's declared steps.

        A step taken once per item (`check_eligibility:gold`) has its declared name's number.
        """
        number = self._numbers.get(name) or self._numbers.get(name.partition(":")[0])
        if number is None:
            raise LookupError(f"step {name!r} is not declared by its workflow")
        return number

    async def write_held(self, session: AsyncSession, run_id: str) -> None:
        """Write what `session` and the run hold in `session`'s transaction (the caller
        commits)."""
        if run_id in self._held or _HELD_WRITES in session.info:
            await self._send(await session.connection(), run_id, opening=session)

    async def _send(
        self,
        connection: AsyncConnection,
        run_id: str,
        writes: Sequence[Write] = (),
        *,
        step: str | None = None,
        opening: AsyncSession | None = None,
        whole: bool = False,
    ) -> list[Any]:
        """What `opening` holds (`hold`), the run's held outcomes, then `writes` (which start
        `step`, if any), folded into one statement where the database can (`core.folded`,
        `_folded`); `writes`' answers.

        `whole`: they are all the transaction writes, on a connection with none begun
        (`_writing`); one statement that may go alone (`alone_possible`) then goes as a
        transaction of its own, without `BEGIN` and `COMMIT`."""
        folded = await self._folded(connection, run_id, writes, step=step, opening=opening)
        alone = whole and not connection.in_transaction() and alone_possible(self.dialect, folded)
        return (await execute_folded(connection, folded, alone=alone))[len(folded) - len(writes) :]

    async def _folded(
        self,
        connection: AsyncConnection,
        run_id: str,
        writes: Sequence[Write],
        *,
        step: str | None = None,
        opening: AsyncSession | None = None,
    ) -> list[Write]:
        """What `opening` holds, the run's held outcomes, then `writes` (which start `step`, if
        any): the writes of one statement. Writes of one step never share a statement (they
        would not see each other's rows): the held ones are then sent one by one first."""
        held = self._held.get(run_id, [])
        names = [w.name for w in held] + ([step] if step else [])
        taken = opening.info.pop(_HELD_WRITES, []) if opening is not None else []
        first = [*taken, *self._held_steps(run_id)]
        if len(set(names)) < len(names):
            for write in first:
                await execute_folded(connection, [write])
            first = []
        return [*first, *writes]

    def _held_steps(self, run_id: str) -> list[Write]:
        held = self._held.pop(run_id, [])
        records = [(w.name, w.values) for w in held if not w.step_id]
        return [
            *step_updates([(w.step_id, w.values) for w in held if w.step_id]),
            *step_records(self.dialect, run_id, records),
        ]

    @asynccontextmanager
    async def transaction(self, run_id: str) -> AsyncIterator[AsyncSession]:
        """A transaction that first writes the run's held step outcomes; committed on exit."""
        async with self.sessionmaker.begin() as session:
            await self.write_held(session, run_id)
            yield session

    def _writing(self, *, opening: AsyncSession | None) -> _Writing:
        """A transaction of the step path (see `_Writing`)."""
        return _Writing(self.sessionmaker.kw["bind"], opening)

    async def defer(self, run_id: str, error: Exception) -> datetime:
        """Queue the run for a later retry (transient failure); returns when it is due."""
        async with self.transaction(run_id) as session:
            run = await session.get_one(WorkflowRunRow, run_id)
            run.status = RunStatus.PENDING_RETRY
            run.error_class = error_class_of(error)
            run.error_type = error_type_of(error)
            run.error_detail = str(error)
            run.next_attempt_at = utcnow() + retry_delay(run.attempts)
            workflow_runs(run.workflow, "deferred", run.error_class).inc()
            run_log.run_ended(
                run,
                "deferred",
                logging.WARNING,
                error_class=run.error_class,
                error=run.error_detail,
            )
            return run.next_attempt_at

    async def fail(self, run_id: str, error: Exception, *, answered: bool = False) -> None:
        """Put the run in the exception queue in a transaction of its own (see
        `fail_in_session` for `answered`)."""
        async with self.transaction(run_id) as session:
            close_failed(await session.get_one(WorkflowRunRow, run_id), error, answered=answered)
        if isinstance(error, LedgergateError):
            attach_run(error, run_id)

    async def succeed(self, run_id: str, result: dict[str, Any]) -> None:
        """Close the run as succeeded in a transaction of its own."""
        async with self.transaction(run_id) as session:
            mark_succeeded(await session.get_one(WorkflowRunRow, run_id), result)

    async def closing(self) -> AsyncConnection:
        """A run's closing transaction, for SQL Core with no ORM session around it: a
        connection whose writes go with the run's held step outcomes (`closing_writes`). The
        caller commits (or hands it over) and closes it."""
        bind: AsyncEngine = self.sessionmaker.kw["bind"]
        return await bind.connect()

    async def closing_writes(
        self, connection: AsyncConnection, run_id: str, writes: Sequence[Write]
    ) -> list[Write]:
        """The run's held step outcomes and the closing's `writes`, for the caller to send in
        `connection`'s transaction as one statement on PostgreSQL (`core.folded`: none of them
        may touch another's rows), with writes of its own after them if it likes."""
        return await self._folded(connection, run_id, writes)

    async def _start_step(
        self,
        run_id: str,
        name: str,
        *,
        now: datetime,
        renew: bool,
        opening: AsyncSession | None,
        **values: Any,
    ) -> str:
        """Record the step `started` (and renew the run's lease), in one transaction.

        Without `opening` (the transaction that took the run) it commits asynchronously on
        PostgreSQL (see the module docstring): a database crash that loses it leaves the
        earlier step `started`, as a gateway dying between that step's answer and this
        commit does; the run, committed synchronously, makes the retry look its work up in
        the backend first."""
        async with self._writing(opening=opening) as connection:
            relaxed = opening is None and self.asynchronous_step_starts
            dialect = self.dialect
            start = step_start(
                dialect,
                run_id,
                name,
                sequence=self.sequence(name),
                status=StepStatus.STARTED,
                started_at=now,
                finished_at=None,
                **values,
            )
            writes = [*(asynchronous_commit(dialect) if relaxed else ()), start]
            *_, step_id = await self._send(
                connection, run_id, writes, step=name, opening=opening, whole=not renew
            )
            if renew:
                await renew_lease(connection, run_id, now + self.lease)
            return str(step_id)

    async def _finish_step(self, run_id: str, step_id: str, **values: Any) -> None:
        async with self._writing(opening=None) as connection:
            await self._send(
                connection,
                run_id,
                step_updates([(step_id, {**values, "finished_at": utcnow()})]),
                whole=True,
            )

    async def _hold(self, write: _HeldStep, *, opening: AsyncSession | None) -> None:
        self._held.setdefault(write.run_id, []).append(write)
        if not self.hold_outcomes:
            async with self._writing(opening=opening) as connection:
                await self._send(connection, write.run_id, opening=opening, whole=True)


class RunHandle:
    """One run's steps: each persisted around its backend call, numbered by declaration."""

    def __init__(
        self,
        engine: Engine,
        run_id: str,
        *,
        leased_until: datetime | None = None,
        opening: AsyncSession | None = None,
    ) -> None:
        self.engine = engine
        self.run_id = run_id
        self._leased_until = leased_until
        self._opening = opening

    def _take_opening(self) -> AsyncSession | None:
        """The caller's open session for this handle's first write; none after it."""
        opening, self._opening = self._opening, None
        return opening

    def _renews(self, now: datetime) -> bool:
        """Whether a step starting `now` renews the lease (see the module docstring)."""
        if self._leased_until is None:
            return True
        lease = self.engine.lease
        return self._leased_until - now < lease - lease * LEASE_RENEWAL_SHARE

    async def step(
        self,
        name: str,
        call: Callable[[], Awaitable[T]],
        *,
        request: Any,
        downstream_key: str | None = None,
        backend_ref: Callable[[T], str | None] | None = None,
    ) -> T:
        """Persist the step, await `call` with no transaction open, persist its outcome."""
        now = utcnow()
        renew = self._renews(now)
        step_id = await self.engine._start_step(
            self.run_id,
            name,
            now=now,
            renew=renew,
            opening=self._take_opening(),
            request_digest=digest(request),
            downstream_key=downstream_key,
        )
        if renew:
            self._leased_until = now + self.engine.lease
        started = time.perf_counter()
        try:
            result = await call()
        except Exception as error:
            failure = error_class_of(error)
            await self.engine._finish_step(
                self.run_id,
                step_id,
                status=StepStatus.FAILED,
                error_class=failure,
                error_detail=str(error),
            )
            run_log.step_ended(
                self.run_id,
                name,
                run_log.FAILED,
                seconds=time.perf_counter() - started,
                error_class=failure,
            )
            raise
        outcome = result.model_dump(mode="json") if isinstance(result, BaseModel) else None
        await self.engine._hold(
            _HeldStep(
                run_id=self.run_id,
                name=name,
                step_id=step_id,
                values={
                    "status": StepStatus.SUCCEEDED,
                    "outcome": outcome,
                    "backend_ref": backend_ref(result) if backend_ref else None,
                    "finished_at": utcnow(),
                },
            ),
            opening=None,  # the step's start was the handle's first write
        )
        run_log.step_ended(
            self.run_id, name, run_log.SUCCEEDED, seconds=time.perf_counter() - started
        )
        return result

    async def record(
        self,
        name: str,
        *,
        request: Any,
        outcome: dict[str, Any],
        downstream_key: str | None = None,
        backend_ref: str | None = None,
    ) -> None:
        """Record a step answered without a backend call as succeeded (held, see above)."""
        now = utcnow()
        await self.engine._hold(
            _HeldStep(
                run_id=self.run_id,
                name=name,
                values={
                    "sequence": self.engine.sequence(name),
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
            ),
            opening=None if self.engine.hold_outcomes else self._take_opening(),
        )
        run_log.step_ended(self.run_id, name, run_log.RECORDED)
