"""The posting workflow's own Python work, counted so a regression fails, and the answers
it gives unchanged by what it no longer reads or builds."""

import hashlib
import json
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, select, text

from app.seed import demo_id
from core.canonical.parties import ClosedPeriodPolicy
from core.errors import LedgergateError
from core.folded import execute_folded
from core.ids import new_id
from core.models.legal_entity import AccountingPeriodRow
from core.models.workflow_run import WorkflowRunRow
from process_apis.invoices.preparing import AfterLock, read_after_lock
from process_apis.invoices.workflow import (
    CUSTOMER_SYNC_WORKFLOW,
    REVERSAL_WORKFLOW,
    WORKFLOW,
    InvoicePostingWorkflow,
)
from process_apis.legal_entities.periods import posting_date_for, resolve_posting_date
from process_apis.lookups import get_invoice
from process_apis.runs.engine import Engine, digest
from process_apis.runs.repository import taken_run
from tests.conftest import Gateway
from tests.integration.test_invoice_posting import post, register
from tests.support.invoices import invoice_body
from tests.support.python_calls import python_calls

ENTITY = demo_id("legal_entity", 1)


def calls_in(called: list[str], path: str) -> int:
    return sum(1 for call in called if call.split(":", 1)[0].endswith(path))


async def posted_calls(gateway: Gateway, key: str) -> list[str]:
    """The Python calls of one posting, after one that warmed the caches."""
    response = await post(gateway, await register(gateway), f"{key}-warm")
    assert response.status_code == 201, response.text
    invoice_id = await register(gateway)
    with python_calls() as called:
        response = await post(gateway, invoice_id, key)
    assert response.status_code == 201, response.text
    return called


async def test_a_posting_reads_its_legal_entity_with_its_other_reads(gateway: Gateway) -> None:
    # The seeded entity has 25 periods; the posting needs the one covering its day (and,
    # were it closed, the next open one): 25 rows loaded were some 400 calls, in a
    # statement of their own.
    called = await posted_calls(gateway, "periods")
    assert calls_in(called, "legal_entities/snapshot.py") <= 8


async def read(gateway: Gateway, invoice_id: str, day: date) -> AfterLock:
    async with gateway.sessionmaker() as session:
        invoice = await get_invoice(session, invoice_id)
        return await read_after_lock(
            await session.connection(),
            invoice,
            on=day,
            workflow=WORKFLOW,
            reversal_workflow=REVERSAL_WORKFLOW,
            sync_workflow=CUSTOMER_SYNC_WORKFLOW,
        )


def outcome(legal_entity: object, day: date) -> str:
    try:
        return posting_date_for(legal_entity, day).isoformat()  # type: ignore[arg-type]
    except LedgergateError as error:
        return type(error).__name__


@pytest.mark.parametrize("policy", list(ClosedPeriodPolicy))
async def test_the_periods_read_decide_every_day_as_all_of_them_would(
    gateway: Gateway, policy: ClosedPeriodPolicy
) -> None:
    """Closed runs, a gap, a closed last period: each day's posting date (or refusal) from
    the snapshot's periods is the one every period of the entity gives."""
    invoice_id = await register(gateway)
    async with gateway.sessionmaker.begin() as session:
        connection = await session.connection()
        periods = (
            await session.scalars(
                select(AccountingPeriodRow)
                .where(AccountingPeriodRow.legal_entity_id == ENTITY)
                .order_by(AccountingPeriodRow.starts_on)
            )
        ).all()
        closed = [periods[n].id for n in (3, 4, 5, 9, 12, 13, len(periods) - 1)]
        await connection.execute(
            text("UPDATE accounting_periods SET status = 'closed' WHERE id = :id"),
            [{"id": period_id} for period_id in closed],
        )
        await connection.execute(
            text("DELETE FROM accounting_periods WHERE id = :id"), {"id": periods[7].id}
        )
        await connection.execute(
            text("UPDATE legal_entities SET closed_period_policy = :policy WHERE id = :id"),
            {"policy": policy.value, "id": ENTITY},
        )
    async with gateway.sessionmaker() as session:
        every = (
            await session.scalars(
                select(AccountingPeriodRow)
                .where(AccountingPeriodRow.legal_entity_id == ENTITY)
                .order_by(AccountingPeriodRow.starts_on)
            )
        ).all()
    first, last = every[0].starts_on, every[-1].ends_on
    day = first - timedelta(days=3)
    while day <= last + timedelta(days=3):
        snapshot = (await read(gateway, invoice_id, day)).legal_entity
        assert len(snapshot.periods) <= 2
        try:
            expected = resolve_posting_date(day, periods=every, policy=policy).isoformat()
        except LedgergateError as error:
            expected = type(error).__name__
        assert outcome(snapshot, day) == expected, day
        day += timedelta(days=9)


async def test_the_prepare_reads_the_mappings_of_the_invoice_s_own_tax_codes(
    gateway: Gateway,
) -> None:
    body = invoice_body(lines=(("Pro", 1, 4900, "STANDARD"), ("Book", 2, 1000, "EXEMPT")))
    invoice_id = await register(gateway, body)
    async with gateway.sessionmaker.begin() as session:
        await (await session.connection()).execute(
            text(
                "INSERT INTO tax_code_mappings (id, legal_entity_id, tax_code, erp_tax_code) "
                "VALUES (:id, :entity, :code, :erp)"
            ),
            [
                {"id": f"tcm_{code}", "entity": ENTITY, "code": code, "erp": f"ERP-{code}"}
                for code in ("STANDARD", "EXEMPT", "REDUCED")
            ],
        )

    found = await read(gateway, invoice_id, date.today())

    assert found.legal_entity.tax_codes == {"STANDARD": "ERP-STANDARD", "EXEMPT": "ERP-EXEMPT"}
    assert found.customer.id == body["customer_id"]
    assert (found.run, found.reversals) == (None, 0)
    assert 1 <= len(found.legal_entity.periods) <= 2


async def test_a_new_run_s_insert_is_built_without_setting_each_column(gateway: Gateway) -> None:
    run = Engine(gateway.sessionmaker, steps=()).new_run(
        workflow="invoice_posting",
        subject_id=new_id("invoice"),
        legal_entity_id=None,
        params={"posting_date": None},
        correlation_id=None,
        client_id="other",
    )
    async with gateway.sessionmaker.begin() as session:
        with python_calls() as called:
            write = await taken_run(session, run, ())
        await execute_folded(await session.connection(), [write])

    # 52 when each column was read and set through the ORM's instrumentation
    # (`set_committed_value`) and the queue's events read the run's attribute histories.
    assert calls_in(called, "sqlalchemy/orm/attributes.py") <= 2
    state = inspect(run)
    assert state.detached
    assert not state.modified
    assert state.committed_state == {}
    assert (run.version, run.result, run.finished_at) == (1, None, None)
    async with gateway.sessionmaker() as session:
        stored = await session.get_one(WorkflowRunRow, run.id)
        assert (stored.version, stored.status, stored.created_at) == (1, run.status, run.created_at)


async def test_the_posting_s_plan_is_built_once(gateway: Gateway) -> None:
    called = await posted_calls(gateway, "plan")
    # It was built, then copied with what the prepare knew besides (`dataclasses.replace`).
    assert calls_in(called, "dataclasses.py") == 0


async def test_the_prepare_reads_its_rows_by_sql_core(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The invoice with its lines and the after-lock row were ORM entities loaded in the
    # prepare's session: its ORM execution and loading were some 600 calls a posting.
    prepare, called = InvoicePostingWorkflow._prepare, list[str]()

    async def counted(*args: Any, **kw: Any) -> Any:
        with python_calls(this_task_only=True) as calls:
            try:
                return await prepare(*args, **kw)
            finally:
                called.extend(calls)

    monkeypatch.setattr(InvoicePostingWorkflow, "_prepare", counted)
    await posted_calls(gateway, "core-reads")
    assert calls_in(called, "sqlalchemy/orm/loading.py") == 0
    assert calls_in(called, "sqlalchemy/orm/context.py") == 0


def test_a_digest_builds_no_json_encoder() -> None:
    """A posting digests its request and each step's: with one encoder built once (one
    built per digest before)."""
    with python_calls() as called:
        for step in range(4):
            digest({"company_id": "c", "step": step})
    assert not [c for c in called if c.endswith("json/encoder.py:__init__")]


def test_a_digest_is_the_sorted_compact_json_s_sha256() -> None:
    payload = {"b": [1, {"z": date(2026, 1, 2)}], "a": "é"}
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    assert digest(payload) == hashlib.sha256(encoded.encode()).hexdigest()
