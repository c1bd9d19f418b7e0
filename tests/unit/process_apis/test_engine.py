"""The run engine on its own: leases, steps, failure classes, resume, the replayer and
compensation (in-memory SQLite)."""

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import BusinessRuleViolation, ErrorClass, LedgergateError
from core.models.base import utcnow
from core.models.workflow_run import RunStatus, StepStatus, WorkflowRunRow
from process_apis.legal_entities.errors import PeriodNotDefined
from process_apis.runs.engine import Engine
from process_apis.runs.errors import RunInProgress, RunNotReplayable
from process_apis.runs.replay import Replay, Replayer
from process_apis.runs.repository import get_run, latest_run
from system_apis.errors import (
    BackendAuthError,
    BackendBusinessError,
    BackendContractError,
    BackendNotFound,
    BackendTransientError,
)
from tests.support.fakes.estate import UnitDatabase

STEPS = ("first", "second")
LEASE = timedelta(minutes=5)


@pytest.fixture
async def sessionmaker(unit_database: UnitDatabase) -> async_sessionmaker[AsyncSession]:
    await unit_database.empty()
    return unit_database.sessionmaker


async def take(engine: Engine, subject: str = "inv_1") -> WorkflowRunRow:
    async with engine.sessionmaker.begin() as session:
        return engine.take(
            session,
            await latest_run(session, workflow="w", subject_id=subject),
            legal_entity_id=None,
            workflow="w",
            subject_id=subject,
            params={},
            correlation_id="c-1",
            client_id="client",
            claimed_run_id=None,
        )


async def stored(engine: Engine, run_id: str) -> WorkflowRunRow:
    async with engine.sessionmaker() as session:
        return await get_run(session, run_id)


async def test_steps_are_numbered_by_declaration_and_renew_the_lease(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    engine = Engine(sessionmaker, steps=STEPS, lease=LEASE)
    run = await take(engine)
    async with sessionmaker.begin() as session:  # the lease is nearly over
        row = await session.get_one(WorkflowRunRow, run.id)
        row.next_attempt_at = utcnow() + timedelta(seconds=1)

    async def answer() -> str:
        return "done"

    assert await engine.run(run.id).step("second", answer, request={"a": 1}) == "done"
    saved = await stored(engine, run.id)
    [step] = saved.steps
    assert (step.name, step.sequence, step.status) == ("second", 2, StepStatus.SUCCEEDED)
    assert saved.next_attempt_at is not None
    assert saved.next_attempt_at > utcnow() + LEASE - timedelta(seconds=30)


async def test_an_undeclared_step_is_refused(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    engine = Engine(sessionmaker, steps=STEPS)
    run = await take(engine)
    with pytest.raises(LookupError):
        await engine.run(run.id).record("third", request={}, outcome={})


async def test_a_held_outcome_lands_with_the_next_write(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    engine = Engine(sessionmaker, steps=STEPS, hold_outcomes=True)
    run = await take(engine)
    await engine.run(run.id).record("first", request={}, outcome={"cached": True})
    assert (await stored(engine, run.id)).steps == []
    await engine.succeed(run.id, {"ok": True})
    saved = await stored(engine, run.id)
    assert saved.status == RunStatus.SUCCEEDED
    assert [(s.name, s.outcome) for s in saved.steps] == [("first", {"cached": True})]


async def test_a_run_taken_in_an_open_transaction_is_committed_with_its_first_steps_start(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    engine = Engine(sessionmaker, steps=STEPS, hold_outcomes=True)
    seen_by_the_call: list[WorkflowRunRow] = []
    async with sessionmaker() as opening:
        run = engine.take(
            opening,
            None,
            legal_entity_id=None,
            workflow="w",
            subject_id="inv_1",
            params={},
            correlation_id="c-1",
            client_id="client",
            claimed_run_id=None,
        )
        handle = engine.run(run.id, leased_until=run.next_attempt_at, opening=opening)
        await handle.record("first", request={}, outcome={"cached": True})
        assert await latest_run_elsewhere(sessionmaker, "inv_1") is None  # still uncommitted

        async def crash() -> str:
            # The backend is called with the run and the started step committed, and with
            # no transaction open in the session that took the run.
            seen_by_the_call.append(await stored(engine, run.id))
            assert not opening.in_transaction()
            raise RuntimeError("the process dies in the call")

        with pytest.raises(RuntimeError):
            await handle.step("second", crash, request={})

    [saved] = seen_by_the_call
    assert saved.status == RunStatus.RUNNING
    assert [(s.name, s.status) for s in saved.steps] == [
        ("first", StepStatus.SUCCEEDED),
        ("second", StepStatus.STARTED),
    ]


async def latest_run_elsewhere(
    sessionmaker: async_sessionmaker[AsyncSession], subject: str
) -> WorkflowRunRow | None:
    async with sessionmaker() as session:
        return await latest_run(session, workflow="w", subject_id=subject)


async def test_a_leased_run_is_in_progress_and_a_failed_one_resumes(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    engine = Engine(sessionmaker, steps=STEPS)
    run = await take(engine)
    with pytest.raises(RunInProgress):
        await take(engine)
    await engine.fail(run.id, BusinessRuleViolation("no"))
    saved = await stored(engine, run.id)
    assert (saved.status, saved.error_class) == (RunStatus.FAILED, ErrorClass.BUSINESS)
    again = await take(engine)
    assert (again.id, again.attempts, again.correlation_id) == (run.id, 2, "c-1")


async def test_a_transient_failure_defers_the_run_with_backoff(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    engine = Engine(sessionmaker, steps=STEPS)
    run = await take(engine)

    async def down() -> None:
        raise BackendTransientError("timeout", backend="erp", operation="post")

    with pytest.raises(BackendTransientError):
        await engine.run(run.id).step("first", down, request={})
    error = BackendTransientError("timeout", backend="erp", operation="post")
    retry_at = await engine.defer(run.id, error)
    saved = await stored(engine, run.id)
    assert saved.status == RunStatus.PENDING_RETRY
    assert saved.error_class == ErrorClass.TRANSIENT
    assert retry_at > utcnow() + timedelta(seconds=25)
    assert [(s.status, s.error_class) for s in saved.steps] == [
        (StepStatus.FAILED, ErrorClass.TRANSIENT)
    ]


async def expire_lease(engine: Engine, run_id: str) -> None:
    """What the clock does to a run whose process died: its lease passes."""
    async with engine.sessionmaker.begin() as session:
        row = await session.get_one(WorkflowRunRow, run_id)
        row.next_attempt_at = utcnow() - timedelta(seconds=1)


async def test_a_run_whose_process_died_mid_step_is_taken_over_and_repeats_the_step(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    engine = Engine(sessionmaker, steps=STEPS, lease=LEASE)
    run = await take(engine)

    async def dies() -> str:
        raise asyncio.CancelledError  # the process goes away during the backend call

    with pytest.raises(asyncio.CancelledError):
        await engine.run(run.id).step("first", dies, request={})
    [started] = (await stored(engine, run.id)).steps
    assert started.status == StepStatus.STARTED
    with pytest.raises(RunInProgress):  # its lease still holds it
        await take(engine)

    await expire_lease(engine, run.id)
    resumed = await take(engine)

    async def answers() -> str:
        return "done"

    assert (resumed.id, resumed.attempts) == (run.id, 2)
    assert await engine.run(run.id).step("first", answers, request={}) == "done"
    [step] = (await stored(engine, run.id)).steps
    assert (step.status, step.attempts) == (StepStatus.SUCCEEDED, 2)


async def test_the_replayer_may_take_the_run_it_claimed_while_leased(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    engine = Engine(sessionmaker, steps=STEPS, lease=LEASE)
    run = await take(engine)
    async with sessionmaker.begin() as session:
        again = engine.take(
            session,
            await latest_run(session, workflow="w", subject_id="inv_1"),
            legal_entity_id=None,
            workflow="w",
            subject_id="inv_1",
            params={},
            correlation_id=None,
            client_id=None,
            claimed_run_id=run.id,
        )
    assert (again.id, again.attempts) == (run.id, 2)


@pytest.mark.parametrize(
    ("error", "status", "error_class"),
    [
        (BackendBusinessError("no", backend="erp", operation="o"), RunStatus.FAILED, "business"),
        (BackendNotFound("gone", backend="erp", operation="o"), RunStatus.FAILED, "business"),
        (BackendContractError("odd", backend="erp", operation="o"), RunStatus.FAILED, "contract"),
        (BackendAuthError("401", backend="erp", operation="o"), RunStatus.FAILED, "auth"),
        (RuntimeError("bug"), RunStatus.FAILED, "contract"),
        (PeriodNotDefined("no period"), RunStatus.FAILED, "business"),
    ],
)
async def test_each_lasting_failure_class_puts_the_run_in_the_exception_queue(
    sessionmaker: async_sessionmaker[AsyncSession],
    error: Exception,
    status: RunStatus,
    error_class: str,
) -> None:
    engine = Engine(sessionmaker, steps=STEPS)
    run = await take(engine)
    await engine.fail(run.id, error)
    saved = await stored(engine, run.id)
    assert (saved.status, saved.error_class) == (status, error_class)
    assert saved.next_attempt_at is None
    assert saved.finished_at is not None
    if isinstance(error, LedgergateError):
        assert error.extensions["run_id"] == run.id
        assert saved.error_type == error.type_uri()


async def test_a_problem_its_waiting_caller_can_correct_closes_the_run_rejected(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    engine = Engine(sessionmaker, steps=STEPS)
    correctable, other = await take(engine, "a"), await take(engine, "b")
    await engine.fail(correctable.id, PeriodNotDefined("no period"), answered=True)
    await engine.fail(other.id, BusinessRuleViolation("no"), answered=True)
    assert (await stored(engine, correctable.id)).status == RunStatus.REJECTED
    assert (await stored(engine, other.id)).status == RunStatus.FAILED


async def test_the_replayer_resumes_due_runs_and_leaves_the_others(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    engine = Engine(sessionmaker, steps=STEPS, lease=LEASE)
    due, later, failed = await take(engine, "a"), await take(engine, "b"), await take(engine, "c")
    transient = BackendTransientError("down", backend="erp", operation="o")
    await engine.defer(due.id, transient)
    await engine.defer(later.id, transient)
    await engine.fail(failed.id, BusinessRuleViolation("no"))
    async with sessionmaker.begin() as session:
        (await session.get_one(WorkflowRunRow, due.id)).next_attempt_at = utcnow()
    resumed: list[str] = []

    async def resume(run_id: str) -> None:
        resumed.append(run_id)
        await engine.succeed(run_id, {"replayed": True})

    class Workflow:
        def replays(self) -> dict[str, Replay]:
            return {"w": Replay(resume=resume)}

    report = await Replayer(sessionmaker, [Workflow()], lease=LEASE).run_once()

    assert (resumed, report.claimed, report.outcomes) == ([due.id], 1, {"succeeded": 1})
    assert (await stored(engine, later.id)).status == RunStatus.PENDING_RETRY
    assert (await stored(engine, failed.id)).status == RunStatus.FAILED


async def test_discarding_a_run_compensates_and_a_workflow_without_compensation_refuses(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    engine = Engine(sessionmaker, steps=STEPS)
    compensated, kept = await take(engine, "a"), await take(engine, "b")
    for run in (compensated, kept):
        await engine.fail(run.id, BusinessRuleViolation("no"))
    undone: list[str] = []

    async def discard(_session: AsyncSession, run: WorkflowRunRow) -> None:
        undone.append(run.id)

    async def resume(_run_id: str) -> None:
        raise AssertionError("not replayed")

    class Workflows:
        def replays(self) -> dict[str, Replay]:
            return {"w": Replay(resume=resume, discard=discard)}

    class Plain:
        def replays(self) -> dict[str, Replay]:
            return {"plain": Replay(resume=resume)}

    replayer = Replayer(sessionmaker, [Workflows(), Plain()])
    await replayer.close(compensated.id, status=RunStatus.DISCARDED, note="gave up", operator="op")
    saved = await stored(engine, compensated.id)
    assert undone == [compensated.id]
    assert saved.status == RunStatus.DISCARDED
    assert saved.result == {"closed_by": "op", "note": "gave up"}
    async with sessionmaker.begin() as session:
        (await session.get_one(WorkflowRunRow, kept.id)).workflow = "plain"
    with pytest.raises(RunNotReplayable):
        await replayer.close(kept.id, status=RunStatus.DISCARDED, note="x", operator="op")
    assert (await stored(engine, kept.id)).status == RunStatus.FAILED


async def test_a_step_of_a_queued_run_does_not_renew_a_lease_it_no_longer_holds(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    engine = Engine(sessionmaker, steps=STEPS, lease=LEASE)
    run = await take(engine)
    retry_at = await engine.defer(run.id, BackendTransientError("down", backend="b", operation="o"))

    async def answer() -> str:
        return "late"

    await engine.run(run.id).step("second", answer, request={})  # a straggler's write
    saved = await stored(engine, run.id)
    assert (saved.status, saved.next_attempt_at) == (RunStatus.PENDING_RETRY, retry_at)
