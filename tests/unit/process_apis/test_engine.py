"""The run engine on its own: leases, steps, failure classes, resume (in-memory SQLite)."""

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import create_engine, create_sessionmaker
from core.errors import BusinessRuleViolation, ErrorClass
from core.models.base import Base, utcnow
from core.models.workflow_run import RunStatus, StepStatus, WorkflowRunRow
from process_apis.runs.engine import Engine
from process_apis.runs.errors import RunInProgress
from process_apis.runs.repository import get_run, latest_run
from system_apis.errors import BackendTransientError

STEPS = ("first", "second")
LEASE = timedelta(minutes=5)


@pytest.fixture
async def sessionmaker(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def take(engine: Engine, subject: str = "inv_1") -> WorkflowRunRow:
    async with engine.sessionmaker.begin() as session:
        return engine.take(
            session,
            await latest_run(session, workflow="w", subject_id=subject),
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
