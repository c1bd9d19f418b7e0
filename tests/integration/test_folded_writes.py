"""Independent writes folded into one statement on PostgreSQL (`core.folded`): each still
answers its own row count or returned column, a versioned write that changed no row still
raises, and the folded statement is compiled once; elsewhere each write is its own."""

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, event, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm.exc import StaleDataError

from core.driver import _shape
from core.folded import Unled, Write, execute_folded, rows_led
from core.ids import new_id
from core.models.base import utcnow
from core.versioned import _versioned_update
from process_apis.idempotency import KEYS, IdempotencyStore, _insert_key
from process_apis.runs.engine import Engine
from process_apis.runs.repository import RUNS, STEPS, _upsert_step, get_run
from tests.conftest import Gateway
from tests.support.python_calls import profiled, python_calls
from tests.support.runs import committed_run


def new_run() -> dict[str, Any]:
    now = utcnow()
    return {
        "id": new_id("workflow_run"),
        "workflow": "fold_probe",
        "subject_id": "probe",
        "status": "running",
        "params": {"a": 1},
        "attempts": 1,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def writes(run: dict[str, Any], dialect: str, *, version: int) -> list[Write]:
    """A run's versioned update, two steps' records and a step's start returning its id."""
    record = {"sequence": 1, "status": "succeeded", "attempts": 1, "started_at": utcnow()}
    started = {"sequence": 2, "status": "started", "attempts": 1, "started_at": utcnow()}
    return [
        Write(
            _versioned_update(RUNS),
            [
                {
                    "row_id": run["id"],
                    "row_version": version,
                    "status": "failed",
                    "version": 2,
                    "updated_at": utcnow(),
                }
            ],
            stale=f"run {run['id']} changed",
        ),
        Write(
            _upsert_step(dialect, tuple(record)),
            [
                {"id": new_id("workflow_step"), "run_id": run["id"], "name": name, **record}
                for name in ("a", "b")
            ],
        ),
        Write(
            _upsert_step(dialect, tuple(started), returning_id=True),
            [{"id": run["id"] + "_c", "run_id": run["id"], "name": "c", **started}],
        ),
    ]


async def test_each_write_answers_its_own_count_or_column(gateway: Gateway) -> None:
    bind: AsyncEngine = gateway.sessionmaker.kw["bind"]
    run = new_run()
    seen: list[str] = []

    def statement(_connection: Any, _cursor: Any, sql: str, *_: Any) -> None:
        seen.append(sql)

    async with bind.begin() as connection:
        await connection.execute(insert(RUNS), run)
        event.listen(bind.sync_engine, "before_cursor_execute", statement)
        try:
            answers = await execute_folded(connection, writes(run, bind.dialect.name, version=1))
        finally:
            event.remove(bind.sync_engine, "before_cursor_execute", statement)

    assert answers == [1, 2, run["id"] + "_c"]
    assert len(seen) == (1 if bind.dialect.name == "postgresql" else 3), seen
    async with bind.connect() as connection:
        steps = await connection.execute(
            select(STEPS.c.name, STEPS.c.status).where(STEPS.c.run_id == run["id"])
        )
        status = await connection.scalar(select(RUNS.c.status).where(RUNS.c.id == run["id"]))
    assert sorted(tuple(row) for row in steps) == [
        ("a", "succeeded"),
        ("b", "succeeded"),
        ("c", "started"),
    ]
    assert status == "failed"


async def test_a_stale_version_raises_with_the_writes_folded(gateway: Gateway) -> None:
    bind: AsyncEngine = gateway.sessionmaker.kw["bind"]
    run = new_run()
    async with bind.begin() as connection:
        await connection.execute(insert(RUNS), run)

    with pytest.raises(StaleDataError, match="changed"):
        async with bind.begin() as connection:
            await execute_folded(connection, writes(run, bind.dialect.name, version=7))

    async with bind.connect() as connection:
        status = await connection.scalar(select(RUNS.c.status).where(RUNS.c.id == run["id"]))
        steps = await connection.scalar(select(STEPS.c.id).where(STEPS.c.run_id == run["id"]))
    assert (status, steps) == ("running", None)  # the caller's transaction rolled back


# Calls (cProfile's, C functions and the gateway's background loops counted) to send the
# three writes of `writes` folded, once their statement is compiled: some 220 through
# SQLAlchemy's execution layer, some 125 on the driver (`core.driver`), most of them the
# writes' parameters, asyncpg's and the event loop's.
FOLDED_WRITE_CALLS = 170


@pytest.mark.postgres
async def test_the_folded_statement_is_compiled_once_and_sent_on_the_driver(
    gateway: Gateway,
) -> None:
    bind: AsyncEngine = gateway.sessionmaker.kw["bind"]
    if bind.dialect.name != "postgresql":
        pytest.skip("folded on PostgreSQL only")
    compiled: list[int] = []
    counted: list[int] = []
    for _ in range(4):
        run = new_run()
        folded = writes(run, "postgresql", version=1)
        async with bind.begin() as connection:
            await connection.execute(insert(RUNS), run)
            misses = _shape.cache_info().misses
            with profiled() as profile:
                answers = await execute_folded(connection, folded)
            compiled.append(_shape.cache_info().misses - misses)
            counted.append(profile.total_calls)
        assert answers == [1, 2, run["id"] + "_c"]

    assert compiled == [1, 0, 0, 0], compiled  # compiled by the first, reused by the others
    assert min(counted[1:]) <= FOLDED_WRITE_CALLS, counted


@pytest.mark.postgres
async def test_a_folded_statement_s_shape_is_taken_in_one_call(gateway: Gateway) -> None:
    """The writes' shape (the key of its compiled statement) is built without a generator
    resumed per write."""
    bind: AsyncEngine = gateway.sessionmaker.kw["bind"]
    if bind.dialect.name != "postgresql":
        pytest.skip("folded on PostgreSQL only")
    run = new_run()
    async with bind.begin() as connection:
        await connection.execute(insert(RUNS), run)
        with python_calls() as called:
            await execute_folded(connection, writes(run, "postgresql", version=1))
    assert not [c for c in called if c.endswith("core/folded.py:<genexpr>")], called


async def test_an_engine_sends_two_writes_of_one_step_apart(gateway: Gateway) -> None:
    """A held record of a step and a new start of it would touch one row twice in one
    statement, which PostgreSQL refuses: the held one goes first, on its own."""
    engine = Engine(gateway.sessionmaker, steps=("check",), hold_outcomes=True)
    run = await committed_run(engine, "fold_probe")
    handle = engine.run(run.id)

    async def answer() -> None:
        return None

    await handle.record("check", request={}, outcome={"source": "cache"})
    await handle.step("check", answer, request={})

    async with gateway.sessionmaker() as session:
        steps = (await get_run(session, run.id)).steps
    assert [(s.name, s.status, s.attempts) for s in steps] == [("check", "started", 2)]


def lead_of(key: str, dialect: str) -> Write:
    """A key's claim: an insert that does nothing when the key is there, returning the key."""
    store = IdempotencyStore.__new__(IdempotencyStore)
    store.retention = timedelta(days=1)
    request = ("POST", "/lead", "h")
    return Write(_insert_key(dialect), [store._claim_row("lead", key, request, utcnow())])


LOCKED_KEY = (
    select(KEYS.c.key, KEYS.c.status)
    .where(KEYS.c.client_id == bindparam("client_id"), KEYS.c.key == bindparam("key"))
    .with_for_update()
)


async def test_a_lead_goes_with_its_read_and_none_returned_sends_no_read(
    gateway: Gateway,
) -> None:
    bind: AsyncEngine = gateway.sessionmaker.kw["bind"]
    dialect = bind.dialect.name
    read = {"client_id": "lead", "key": "read"}  # a row there before: the read's own
    async with bind.begin() as connection:
        await connection.execute(_insert_key(dialect), lead_of("read", dialect).rows[0])
    seen: list[str] = []

    def statement(_connection: Any, _cursor: Any, sql: str, *_: Any) -> None:
        seen.append(sql)

    event.listen(bind.sync_engine, "before_cursor_execute", statement)
    try:
        async with bind.begin() as connection:
            found = await rows_led(connection, lead_of("k", dialect), LOCKED_KEY, read)
        led = len(seen)
        async with bind.connect() as connection:
            with pytest.raises(Unled):  # the key is there: its insert returns no row
                await rows_led(connection, lead_of("k", dialect), LOCKED_KEY, read)
            if dialect == "postgresql":  # and the read locked nothing
                async with bind.connect() as other:
                    await other.execute(text("SET lock_timeout = '1s'"))
                    assert (await other.execute(LOCKED_KEY, read)).all() == [("read", "in_flight")]
            await connection.rollback()
        with pytest.raises(Unled):  # the read finds no row
            async with bind.begin() as connection:
                await rows_led(connection, lead_of("k2", dialect), LOCKED_KEY, read | {"key": "x"})
    finally:
        event.remove(bind.sync_engine, "before_cursor_execute", statement)

    assert [tuple(row) for row in found] == [("read", "in_flight")]
    assert led == (1 if dialect == "postgresql" else 2)
    async with bind.connect() as connection:
        keys = await connection.scalars(select(KEYS.c.key).where(KEYS.c.client_id == "lead"))
        # the lead committed with its read; the lead of a read that found nothing rolled back
        assert sorted(keys) == ["k", "read"]
