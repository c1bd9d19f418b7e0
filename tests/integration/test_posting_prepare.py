"""The posting's prepare transaction reads what it needs after the invoice's row lock in
one statement and writes the invoice and the run by SQL Core, with the run's first step:
a posting that held the lock is seen as committed, and the invoice keeps its version check."""

import asyncio
from typing import Any

import pytest
from sqlalchemy import inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from core.canonical.documents import InvoiceStatus
from core.db import table_of
from core.errors import PROBLEM_BASE_URI
from core.folded import execute_folded
from core.ids import new_id
from core.models.invoice import InvoiceRow
from core.models.workflow_run import WorkflowRunRow
from process_apis.invoices import workflow
from process_apis.invoices.preparing import posting_write
from process_apis.invoices.workflow import WORKFLOW
from process_apis.lookups import get_invoice, lock_invoice
from process_apis.runs.engine import Engine
from process_apis.runs.repository import RUNS, taken_run
from tests.conftest import Gateway, GatewayFactory
from tests.integration.test_invoice_posting import erp_documents, post, register
from tests.support.faults import switchable_backends
from tests.support.invoices import invoice_body, last_month

INVOICES = table_of(InvoiceRow)


async def test_a_posting_waiting_on_the_invoice_sees_the_run_its_holder_committed(
    gateway: Gateway,
) -> None:
    invoice_id = await register(gateway)
    async with gateway.sessionmaker() as holder:  # a posting's prepare, still open
        invoice = await get_invoice(holder, invoice_id, for_update=True)
        invoice.status = InvoiceStatus.POSTING
        holder.add(
            Engine(gateway.sessionmaker, steps=()).new_run(
                workflow=WORKFLOW,
                subject_id=invoice_id,
                legal_entity_id=invoice.legal_entity_id,
                params={},
                correlation_id=None,
                client_id="other",
            )
        )
        await holder.flush()
        waiting = asyncio.create_task(post(gateway, invoice_id, "key-1"))
        await asyncio.sleep(0.5)
        assert not waiting.done()  # on the invoice's lock (or SQLite's writer lock)
        await holder.commit()

    response = await waiting
    assert response.status_code == 409, response.text
    assert response.json()["type"] == PROBLEM_BASE_URI + "run-in-progress"
    assert erp_documents(gateway, invoice_id) == 0


async def test_the_invoice_s_move_to_posting_keeps_its_version_check(gateway: Gateway) -> None:
    invoice_id = await register(gateway)
    async with gateway.sessionmaker() as session:
        invoice = await get_invoice(session, invoice_id)
        version = invoice.version
        async with gateway.sessionmaker.begin() as other:  # written by another since
            await other.execute(
                update(INVOICES)
                .where(INVOICES.c.id == invoice_id)
                .values(version=INVOICES.c.version + 1)
            )
        invoice.status = InvoiceStatus.POSTING
        write = await posting_write(session, invoice, [])
        with pytest.raises(StaleDataError):
            await execute_folded(await session.connection(), [write])

    async with gateway.sessionmaker() as session:
        stored = await get_invoice(session, invoice_id)
        assert stored.status == InvoiceStatus.OPEN
        assert stored.version == version + 1


async def test_a_posting_of_an_invoice_written_since_its_read_is_a_version_conflict(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The invoice's write, held for the run's first step and sent with it, still checks
    its version: the posting answers 409 before any ERP call, and leaves nothing behind."""
    invoice_id = await register(gateway)
    async with gateway.sessionmaker() as session:
        version = (await get_invoice(session, invoice_id)).version
    read_after_lock = workflow.read_after_lock

    async def read_then_written_since(session: AsyncSession, *args: Any, **kw: Any) -> Any:
        read = await read_after_lock(session, *args, **kw)
        await session.execute(  # what a writer ignoring the lock would leave
            update(INVOICES).where(INVOICES.c.id == invoice_id).values(version=version + 7)
        )
        return read

    monkeypatch.setattr(workflow, "read_after_lock", read_then_written_since)
    response = await post(gateway, invoice_id, "key-1")

    assert response.status_code == 409, response.text
    assert response.json()["type"] == PROBLEM_BASE_URI + "version-conflict"
    assert erp_documents(gateway, invoice_id) == 0
    async with gateway.sessionmaker() as session:
        stored = await get_invoice(session, invoice_id)
        runs = await session.scalar(select(RUNS.c.id).where(RUNS.c.subject_id == invoice_id))
    assert (stored.status, stored.version, runs) == (InvoiceStatus.OPEN, version, None)


async def test_the_invoice_s_move_to_posting_moves_its_version_on(gateway: Gateway) -> None:
    invoice_id = await register(gateway)
    async with gateway.sessionmaker() as session:
        connection = await session.connection()
        invoice = await lock_invoice(connection, invoice_id)
        version = invoice.version
        invoice.status = InvoiceStatus.POSTING
        write = await posting_write(connection, invoice, [])
        await execute_folded(connection, [write])
        await session.commit()
        assert invoice.version == version + 1

    async with gateway.sessionmaker() as session:
        stored = await get_invoice(session, invoice_id)
        assert (stored.status, stored.version) == (InvoiceStatus.POSTING, version + 1)


async def test_a_new_run_is_stored_as_a_flush_stores_it(gateway: Gateway) -> None:
    run = Engine(gateway.sessionmaker, steps=()).new_run(
        workflow=WORKFLOW,
        subject_id=new_id("invoice"),
        legal_entity_id=None,
        params={"posting_date": None},
        correlation_id="c-1",
        client_id="other",
    )
    async with gateway.sessionmaker.begin() as session:
        write = await taken_run(session, run, ())
        await execute_folded(await session.connection(), [write])

    async with gateway.sessionmaker() as session:
        stored = await session.get_one(WorkflowRunRow, run.id)
        unset = await session.scalar(  # SQL NULL, as the ORM leaves an unset JSON column
            select(RUNS.c.result.is_(None)).where(RUNS.c.id == run.id)
        )
    assert unset is True
    assert (stored.version, stored.attempts, stored.params) == (1, 1, {"posting_date": None})
    assert (stored.created_at, stored.finished_at) == (run.created_at, None)


async def test_lock_invoice_reads_the_invoice_and_its_lines_as_the_orm_loads_them(
    gateway: Gateway,
) -> None:
    body = invoice_body(lines=(("Pro", 1, 4900, "STANDARD"), ("Book", 2, 1000, "EXEMPT")))
    invoice_id = await register(gateway, body)
    async with gateway.sessionmaker() as session:
        loaded = await get_invoice(session, invoice_id)
        expected = _columns(loaded), [_columns(line) for line in loaded.lines]
    async with gateway.sessionmaker() as session:
        read = await lock_invoice(await session.connection(), invoice_id)
        assert (_columns(read), [_columns(line) for line in read.lines]) == expected
        assert read not in session
        state = inspect(read)
        assert state.detached
        assert not state.modified


def _columns(row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in inspect(type(row)).columns.keys()}


async def test_a_queued_posting_refused_on_its_retry_opens_its_invoice_again(
    make_gateway: GatewayFactory,
) -> None:
    """The refusal is recorded in the prepare's session on the rows it read detached: the
    resumed run fails, and the invoice it held in `posting` is open again."""
    switches, wrap = switchable_backends()

    gateway = await make_gateway(wrap=wrap)
    invoice_id = await register(gateway)
    switches["erp"].down = True
    queued = await post(gateway, invoice_id, "key-1")
    assert queued.status_code == 202, queued.text
    switches["erp"].down = False

    refused = await post(gateway, invoice_id, "key-2", posting_date=last_month().isoformat())

    assert refused.status_code == 422, refused.text
    assert refused.json()["type"] == PROBLEM_BASE_URI + "closed-period"
    run = (await gateway.client.get(queued.json()["run_url"])).json()
    assert (run["status"], run["attempts"], run["error_class"]) == ("failed", 2, "business")
    invoice = (await gateway.client.get(f"/v1/invoices/{invoice_id}")).json()
    assert invoice["status"] == "open"
    assert erp_documents(gateway, invoice_id) == 0
