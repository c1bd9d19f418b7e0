"""A statement that is a whole transaction (`alone`): on PostgreSQL it goes without `BEGIN`
and `COMMIT` round trips, in the database's implicit transaction of that statement, which
commits as it completes, rolls back all of it when it fails, and commits asynchronously
when the statement relaxes its commit; elsewhere it is committed as it returns."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import String, bindparam, event, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.driver import first
from core.folded import StaleWrite, Write, execute_folded
from process_apis.idempotency import KEYS, IdempotencyStore
from process_apis.runs.repository import asynchronous_commit
from tests.conftest import Gateway, GatewayFactory
from tests.integration.test_driver import key_row
from tests.integration.test_invoice_posting import post, register
from tests.integration.test_posting_cost import APART, COMPLETION
from tests.support.invoices import invoice_body

# A posting's round trips on PostgreSQL: its 7 statements, and a BEGIN and a COMMIT for the
# one transaction of several statements, the prepare (3 each before the middle transaction,
# one statement, went alone; 8 statements and 2 each before the closing's writes went in the
# key's completion's statement, alone).
POSTING_STATEMENTS = 7
POSTING_BEGINS = POSTING_COMMITS = 1
BLOCKS = ("BEGIN", "COMMIT", "ROLLBACK")


@contextmanager
def sent(bind: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """What the running task sends on `bind`, each a round trip: its statements, and the
    `BEGIN`, `COMMIT` and `ROLLBACK` of the transaction blocks asyncpg opens and ends."""
    this_task = asyncio.current_task()
    log: list[str] = []
    transaction = asyncpg.transaction.Transaction
    for name, word in (("start", "BEGIN"), ("commit", "COMMIT"), ("rollback", "ROLLBACK")):
        original = getattr(transaction, name)

        async def counted(self: Any, *args: Any, _sent: Any = original, _word: str = word) -> Any:
            if asyncio.current_task() is this_task:
                log.append(_word)
            return await _sent(self, *args)

        monkeypatch.setattr(transaction, name, counted)

    def statement(_connection: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if asyncio.current_task() is this_task:
            log.append(" ".join(sql.split())[:90])

    event.listen(bind.sync_engine, "before_cursor_execute", statement)
    try:
        yield log
    finally:
        event.remove(bind.sync_engine, "before_cursor_execute", statement)
        monkeypatch.undo()


def on_postgresql(bind: AsyncEngine) -> None:
    if bind.dialect.driver != "asyncpg":
        pytest.skip("PostgreSQL's implicit transaction")


KEYS_WRITTEN = select(KEYS.c.key).where(KEYS.c.client_id == "driver").order_by(KEYS.c.key)


async def test_a_statement_alone_is_committed_as_it_returns(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    bind: AsyncEngine = gateway.sessionmaker.kw["bind"]
    with sent(bind, monkeypatch) as log:
        async with bind.connect() as connection:  # closed without a commit
            assert await first(connection, insert(KEYS), key_row("alone"), alone=True) is None
            assert not connection.in_transaction()

    async with bind.connect() as connection:
        assert list(await connection.scalars(KEYS_WRITTEN)) == ["alone"]
    if bind.dialect.name == "postgresql":
        assert [s.split(None, 1)[0] for s in log] == ["INSERT"], log  # no BEGIN, no COMMIT


@pytest.mark.postgres
async def test_a_statement_alone_that_fails_leaves_nothing(gateway: Gateway) -> None:
    bind: AsyncEngine = gateway.sessionmaker.kw["bind"]
    on_postgresql(bind)
    async with bind.begin() as connection:
        await first(connection, insert(KEYS), key_row("twice"))

    async with bind.connect() as connection:
        writes = [Write(insert(KEYS), [key_row("first")]), Write(insert(KEYS), [key_row("twice")])]
        with pytest.raises(IntegrityError):
            await execute_folded(connection, writes, alone=True)
        assert not connection.in_transaction()
        # the connection still serves, with nothing of the failed statement
        assert list(await connection.scalars(KEYS_WRITTEN)) == ["twice"]


@pytest.mark.postgres
async def test_a_versioned_write_alone_that_changed_no_row_fails_its_statement(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its check is in the statement: nothing of it commits, and it is raised as the write's
    `StaleWrite`, the connection still serving."""
    bind: AsyncEngine = gateway.sessionmaker.kw["bind"]
    on_postgresql(bind)
    checked = update(KEYS).where(KEYS.c.client_id == "driver", KEYS.c.key == bindparam("row"))
    async with bind.begin() as connection:
        await first(connection, insert(KEYS), key_row("there"))
    changed = Write(checked, [{"row": "there", "response_status": 200}], stale="there")
    unchanged = Write(checked, [{"row": "missing", "response_status": 200}], stale="missing")

    with sent(bind, monkeypatch) as log:
        async with bind.connect() as connection:
            inserted = Write(insert(KEYS), [key_row("inserted")])
            with pytest.raises(StaleWrite) as refused:
                await execute_folded(connection, [inserted, changed, unchanged], alone=True)
            assert refused.value.write is unchanged
            assert not connection.in_transaction()
            assert list(await connection.scalars(KEYS_WRITTEN)) == ["there"]

    # no BEGIN before it (the read's is sent after its event), no ROLLBACK after it
    assert log[0].startswith("WITH"), log
    assert log[2:] == ["BEGIN"], log


@pytest.mark.postgres
async def test_a_local_setting_holds_in_its_statement_alone_and_ends_with_it(
    gateway: Gateway,
) -> None:
    bind: AsyncEngine = gateway.sessionmaker.kw["bind"]
    on_postgresql(bind)
    setting = select(func.current_setting("synchronous_commit"))
    async with bind.connect() as connection:
        relaxed, seen = await execute_folded(
            connection, [*asynchronous_commit("postgresql"), Write(setting, [{}])], alone=True
        )
        assert (relaxed, seen) == ("off", "off")
        after = await first(connection, setting, {}, alone=True)
        assert after == ("on",), after  # not left on the pooled connection


async def unflushed_at_return(bind: AsyncEngine, key: str, *, relaxed: bool) -> bool:
    """Insert a key alone (its commit relaxed or not); whether its WAL was not yet flushed
    when the statement returned: its commit did not wait for the disk."""
    written = [
        *(asynchronous_commit("postgresql") if relaxed else ()),
        Write(insert(KEYS), [key_row(key)]),
        Write(select(func.pg_current_wal_insert_lsn().cast(String)), [{}]),
    ]
    async with bind.connect() as connection:
        *_, written_up_to = await execute_folded(connection, written, alone=True)
        flushed = await connection.exec_driver_sql(
            f"SELECT pg_current_wal_flush_lsn() <= '{written_up_to}'::pg_lsn"
        )
        unflushed = bool(flushed.scalar_one())
        await connection.rollback()
    return unflushed


@pytest.mark.postgres
async def test_a_statement_alone_that_relaxes_its_commit_does_not_wait_for_the_disk(
    gateway: Gateway,
) -> None:
    """A synchronous commit returns only once its WAL is flushed, past what the statement
    wrote; the relaxed one is seen returning before that (the WAL writer, or another
    session's synchronous commit, may flush it first: it is tried until seen)."""
    bind: AsyncEngine = gateway.sessionmaker.kw["bind"]
    on_postgresql(bind)
    for attempt in range(5):
        assert not await unflushed_at_return(bind, f"synchronous-{attempt}", relaxed=False)
    for attempt in range(40):
        if await unflushed_at_return(bind, f"relaxed-{attempt}", relaxed=True):
            return
    pytest.fail("every relaxed commit was flushed before its statement returned")


@pytest.mark.postgres
async def test_a_posting_opens_a_transaction_block_only_for_several_statements(
    make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The prepare is a transaction block; the middle transaction (the created document
    recorded, its post started: one statement) and the closing (its writes with the key's
    completion and the audit row: one statement) go alone."""
    gateway = await make_gateway()
    bind: AsyncEngine = gateway.app.state.process.sessionmaker.kw["bind"]
    on_postgresql(bind)
    assert (await post(gateway, await register(gateway), "warm-up")).status_code == 201
    invoice_id = await register(gateway)

    with sent(bind, monkeypatch) as log:
        response = await post(gateway, invoice_id, "counted")

    assert response.status_code == 201, response.text
    posting = without_apart(log)
    statements = [s for s in posting if s not in BLOCKS]
    assert len(statements) <= POSTING_STATEMENTS, posting
    assert posting.count("BEGIN") <= POSTING_BEGINS, posting
    assert posting.count("COMMIT") <= POSTING_COMMITS, posting
    assert "ROLLBACK" not in posting, posting


def without_apart(log: list[str]) -> list[str]:
    """`log` without the transaction blocks of what is counted apart (the ERP budget kept
    in the database, the edge's re-read of its client: `test_posting_cost.APART`)."""
    ordered: list[str] = []
    for sent_ in log:  # a block's BEGIN is sent as its first statement goes, after its event
        if sent_ == "BEGIN" and ordered and ordered[-1] not in BLOCKS:
            ordered.insert(-1, sent_)
        else:
            ordered.append(sent_)
    kept: list[str] = []
    block: list[str] = []
    for sent_ in ordered:
        if sent_ == "BEGIN" or block:
            block.append(sent_)
            if sent_ not in ("COMMIT", "ROLLBACK"):
                continue
            if not any(name in s for s in block for name in APART):
                kept += block
            block = []
        elif not any(name in sent_ for name in APART):
            kept.append(sent_)
    return kept + block


async def test_a_released_key_goes_in_one_statement_alone(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    bind: AsyncEngine = gateway.sessionmaker.kw["bind"]
    store = IdempotencyStore(gateway.sessionmaker, timedelta(days=1))
    async with bind.begin() as connection:
        await first(connection, insert(KEYS), key_row("released"))
        await first(connection, insert(KEYS), key_row("kept"))

    with sent(bind, monkeypatch) as log:
        await store.release(client_id="driver", key="released")

    async with bind.connect() as connection:
        assert list(await connection.scalars(KEYS_WRITTEN)) == ["kept"]
    if bind.dialect.name == "postgresql":
        assert [s.split(None, 1)[0] for s in log] == ["DELETE"], log  # 3 round trips before


async def test_a_write_whose_key_claim_committed_alone_completes_alone(
    make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An invoice's registration claims its key alone, then stores its answer with the
    audit row in one statement, alone too (BEGIN and COMMIT around it before); replayed."""
    gateway = await make_gateway()
    bind: AsyncEngine = gateway.app.state.process.sessionmaker.kw["bind"]
    body = invoice_body()

    with sent(bind, monkeypatch) as log:
        first_answer = await gateway.client.post(
            "/v1/invoices", json=body, headers={"Idempotency-Key": "register-1"}
        )
    replayed = await gateway.client.post(
        "/v1/invoices", json=body, headers={"Idempotency-Key": "register-1"}
    )

    assert first_answer.status_code == 201, first_answer.text
    assert replayed.status_code == 201, replayed.text
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json() == first_answer.json()
    completion = next(i for i, s in enumerate(log) if COMPLETION in s)
    if bind.dialect.name == "postgresql":
        # the last thing sent: no BEGIN (sent as its statement goes), no COMMIT after it
        assert log[completion + 1 :] == [], log
