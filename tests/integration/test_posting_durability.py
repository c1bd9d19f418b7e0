"""Which of a posting's commits wait for the disk, and why losing the one that does not is
safe. A first attempt commits twice, both waiting: the run's taking, and its closing
before the answer (its document is created, posted and read in one ERP call between
them). A retry, which goes step by step, commits a middle transaction between the
document's creation and its post (the creation recorded, the post started):
asynchronously on PostgreSQL, as losing it is recovered without a second document."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.models.base import utcnow
from process_apis.invoices.workflow import InvoicePostingWorkflow
from process_apis.runs.engine import Engine
from process_apis.runs.repository import RUNS, STEPS
from tests.conftest import Gateway, GatewayFactory
from tests.integration.test_invoice_posting import (
    RecordingTransport,
    erp_documents,
    post,
    register,
)
from tests.integration.test_posting_cost import APART, RELAXED
from tests.support.runs import committed_run


class BatchesRefused(httpx.AsyncBaseTransport):
    """The ERP refuses connections to its `$batch` requests while `down`."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.down = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down and request.url.path.endswith("/$batch"):
            raise httpx.ConnectError("connection refused (injected)", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def due_now(gateway: Gateway, run_id: str) -> None:
    """The run may be taken again at once (its lease or its retry's wait is over)."""
    async with gateway.sessionmaker.begin() as session:
        await session.execute(
            update(RUNS)
            .where(RUNS.c.id == run_id)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


async def test_a_first_attempt_commits_twice_both_waiting_for_the_disk(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway()
    engine: AsyncEngine = gateway.app.state.process.sessionmaker.kw["bind"]
    assert (await post(gateway, await register(gateway), "warm-up")).status_code == 201
    invoice_id = await register(gateway)
    this_test = asyncio.current_task()
    transactions: list[list[str]] = [[]]

    def statement(connection: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if asyncio.current_task() is not this_test:
            return
        if connection.in_transaction():
            transactions[-1].append(sql)
        else:  # a statement alone: its own transaction, committed as it completes
            transactions.insert(-1, [sql])

    def commit(_connection: Any) -> None:
        if asyncio.current_task() is this_test:
            transactions.append([])

    event.listen(engine.sync_engine, "before_cursor_execute", statement)
    event.listen(engine.sync_engine, "commit", commit)
    try:
        response = await post(gateway, invoice_id, "counted")
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", statement)
        event.remove(engine.sync_engine, "commit", commit)

    assert response.status_code == 201, response.text
    committed = [
        sql for sql in transactions[:-1] if not any(name in s for s in sql for name in APART)
    ]
    assert len(committed) == 2, committed  # the taking, the closing
    assert not any(RELAXED in statement for sql in committed for statement in sql), committed


async def test_a_lost_middle_commit_is_recovered_without_a_second_document(
    make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retry's middle commit is lost after the ERP posted the document, and the gateway
    dies before the closing: the steps are as they were before that commit. The next
    retry finds the document by its external number and neither creates nor posts again."""
    recorders: dict[str, RecordingTransport] = {}

    def wrap(name: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        recorders[name] = RecordingTransport(BatchesRefused(inner))
        return recorders[name]

    gateway = await make_gateway(wrap=wrap)
    assert (await post(gateway, await register(gateway), "warm-up")).status_code == 201
    invoice_id = await register(gateway)
    refusing = recorders["erp"].inner
    assert isinstance(refusing, BatchesRefused)
    refusing.down = True  # the first attempt's one `$batch` never reaches the ERP
    queued = await post(gateway, invoice_id, "key-0")
    assert queued.status_code == 202, queued.text
    refusing.down = False
    await due_now(gateway, queued.json()["run_id"])
    before: dict[str, list[dict[str, Any]]] = {}
    start_step: Callable[..., Awaitable[str]] = Engine._start_step

    async def snapshot_then_start(engine: Engine, run_id: str, name: str, **kw: Any) -> str:
        if name == "post_document":  # the middle transaction is about to commit
            async with gateway.sessionmaker() as session:
                for table in (STEPS, RUNS):
                    key = table.c.run_id if table is STEPS else table.c.id
                    found = await session.execute(select(table).where(key == run_id))
                    before[table.name] = [dict(row) for row in found.mappings()]
        return await start_step(engine, run_id, name, **kw)

    async def die(*_: Any, **__: Any) -> None:
        raise RuntimeError("the gateway died before recording the ERP's answer")

    monkeypatch.setattr(Engine, "_start_step", snapshot_then_start)
    monkeypatch.setattr(InvoicePostingWorkflow, "_record", die)
    died = await post(gateway, invoice_id, "key-1")  # the retry, step by step
    assert died.status_code == 500
    assert erp_documents(gateway, invoice_id) == 1
    monkeypatch.undo()

    (run,) = before["workflow_runs"]
    steps = {step["name"]: step["status"] for step in before["workflow_steps"]}
    assert steps["create_document"] == "started", steps
    assert "post_document" not in steps, steps
    async with gateway.sessionmaker.begin() as session:  # as the database came back
        await session.execute(delete(STEPS).where(STEPS.c.run_id == run["id"]))
        await session.execute(insert(STEPS), before["workflow_steps"])
    await due_now(gateway, run["id"])  # its lease passed
    recorders["erp"].sent.clear()

    retried = await post(gateway, invoice_id, "key-2")

    assert retried.status_code == 201, retried.text
    assert retried.json()["run_id"] == run["id"]
    assert retried.json()["posting"]["erp_document_number"]  # a posted document's number
    sent = recorders["erp"].sent
    assert "GET salesInvoices?$filter" in sent, sent
    assert not [request for request in sent if request.startswith("POST")], sent
    assert erp_documents(gateway, invoice_id) == 1


async def test_other_workflows_wait_for_every_commit(make_gateway: GatewayFactory) -> None:
    """Only the posting's engine opts in: an engine's step starts are synchronous unless
    its workflow's recovery was shown safe without them."""
    gateway = await make_gateway()
    sessionmaker = gateway.app.state.process.sessionmaker
    bind: AsyncEngine = sessionmaker.kw["bind"]
    engine = Engine(sessionmaker, steps=("first", "second"))
    run = await committed_run(engine, "durability_probe")
    seen: list[str] = []

    def statement(_connection: Any, _cursor: Any, sql: str, *_: Any) -> None:
        seen.append(sql)

    async def answer() -> None:
        return None

    event.listen(bind.sync_engine, "before_cursor_execute", statement)
    try:
        handle = engine.run(run.id)
        await handle.step("first", answer, request={})
        await handle.step("second", answer, request={})
    finally:
        event.remove(bind.sync_engine, "before_cursor_execute", statement)
    assert any("workflow_steps" in sql for sql in seen), seen
    assert not any(RELAXED in sql for sql in seen), seen
