"""The posting workflow's own Python work, counted so a regression fails, and the answers
it gives unchanged by what it no longer reads or builds."""

import base64
import hashlib
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select, text

from app.seed import demo_id
from core.canonical.parties import ClosedPeriodPolicy
from core.errors import LedgergateError
from core.folded import execute_folded
from core.ids import new_id
from core.models.event_outbox import EventOutboxRow
from core.models.legal_entity import AccountingPeriodRow
from core.models.workflow_run import WorkflowRunRow
from events.envelope import CloudEvent, event_id
from events.schemas import invoice as invoice_events
from events.schemas.invoice import InvoicePosted
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
from process_apis.runs.repository import get_run, taken_run
from tests.conftest import Gateway
from tests.integration.test_invoice_posting import post, register
from tests.support.invoices import invoice_body
from tests.support.python_calls import python_calls

ENTITY = demo_id("legal_entity", 1)


def calls_in(called: list[str], path: str) -> int:
    return sum(1 for call in called if call.split(":", 1)[0].endswith(path))


def calls_of(called: list[str], function: str) -> int:
    """The calls (and resumptions) of `function`, named `path:name`."""
    return sum(1 for call in called if call.endswith(function))


ROOT = str(Path(__file__).resolve().parents[2]) + "/"
# The posting's own part of the gateway, as `bench.posting_parts` draws it: the process
# APIs, the core and the events, but for what the bench gives to other parts (the route,
# the edge's authorization, ids, Redis scripts, the run's log lines).
POSTING_PART = ("process_apis/", "core/", "events/")
OTHER_PARTS = (
    "process_apis/invoices/router.py",
    "process_apis/deps.py",
    "process_apis/runs/run_log.py",
    "core/auth.py",
    "core/ids.py",
    "core/redis_scripts.py",
)


def in_posting_part(call: str) -> bool:
    path = call.split(":", 1)[0].removeprefix(ROOT)
    return path.startswith(POSTING_PART) and not path.startswith(OTHER_PARTS)


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


async def posting_task_calls(gateway: Gateway, key: str) -> list[str]:
    """`posted_calls`, counting only the posting request's own task (no background loop
    woken meanwhile)."""
    response = await post(gateway, await register(gateway), f"{key}-warm")
    assert response.status_code == 201, response.text
    invoice_id = await register(gateway)
    with python_calls(this_task_only=True) as called:
        response = await post(gateway, invoice_id, key)
    assert response.status_code == 201, response.text
    return called


# The posting part's own Python calls and coroutine resumptions in one posting, in the
# request's task: 1,113 on PostgreSQL and 1,555 on SQLite (whose driver's every statement
# is a wait more for each coroutine awaiting it) before the cuts below, 989 and 1,161 after.
POSTING_PART_CALLS = {"postgresql": 1_020, "sqlite": 1_200}


async def test_the_posting_part_s_own_python_calls(gateway: Gateway) -> None:
    called = await posting_task_calls(gateway, "posting-part")
    dialect = gateway.sessionmaker.kw["bind"].dialect.name
    own = [call for call in called if in_posting_part(call)]
    assert len(own) <= POSTING_PART_CALLS[dialect], len(own)


async def test_no_coroutine_of_a_posting_only_hands_its_work_on(gateway: Gateway) -> None:
    """A coroutine that only awaits another is resumed at every wait of the one it awaits
    (some 40 times a posting on PostgreSQL): the key's run, the service's entry and the
    document's two steps are awaited by the coroutines that use their answers."""
    called = await posting_task_calls(gateway, "pass-through")
    assert calls_of(called, "process_apis/idempotency.py:__call__") == 1
    assert calls_of(called, "process_apis/invoices/service.py:post_invoice") == 1
    steps = calls_of(called, "process_apis/runs/engine.py:step")
    assert calls_of(called, "process_apis/invoices/workflow.py:_create_and_post") == 0
    assert steps > 2  # the steps' own resumptions: they wait on the ERP and the database


async def test_a_posting_reads_the_clock_without_a_python_function(gateway: Gateway) -> None:
    called = await posting_task_calls(gateway, "clock")
    assert calls_of(called, "core/models/base.py:utcnow") == 0  # 16 a posting before


async def test_a_step_s_transaction_is_entered_without_a_generator(gateway: Gateway) -> None:
    engine = Engine(gateway.sessionmaker, steps=("first", "second"))
    run = engine.new_run(
        workflow="probe",
        subject_id=new_id("invoice"),
        legal_entity_id=None,
        params={},
        correlation_id=None,
        client_id="probe",
    )
    async with gateway.sessionmaker.begin() as session:
        session.add(run)
    handle = engine.run(run.id)

    async def answer() -> None:
        return None

    await handle.step("first", answer, request={})
    with python_calls(this_task_only=True) as called:
        await handle.step("second", answer, request={})
    entered = [
        c for c in called if c.endswith(("contextlib.py:__aenter__", "contextlib.py:__aexit__"))
    ]
    assert entered == []  # an `asynccontextmanager`'s, twice a step before
    async with gateway.sessionmaker() as session:
        steps = (await get_run(session, run.id)).steps
        assert sorted((s.name, s.status) for s in steps) == [
            ("first", "succeeded"),
            ("second", "succeeded"),
        ]


def test_an_event_id_is_spelled_without_base64_s_python() -> None:
    facts = [("com.ledgergate.invoice.posted.v1", new_id("workflow_run")) for _ in range(200)]
    facts += [("com.ledgergate.invoice.posting_failed.v1", "run_x", str(n)) for n in range(50)]
    for event_type, *fact in facts:
        sha = hashlib.sha256("\x1f".join((event_type, *fact)).encode()).digest()
        spelled = "evt_" + base64.b32encode(sha[:20]).decode().lower()[:26]
        assert event_id(event_type, *fact) == spelled
    with python_calls() as called:
        event_id("com.ledgergate.invoice.posted.v1", "run_x")
    assert calls_in(called, "base64.py") == 0


async def test_the_posted_event_and_a_step_s_digest_are_stored_as_before(gateway: Gateway) -> None:
    """The `invoice.posted` event read from the invoice's row as loaded, not through the
    ORM's attributes: its stored envelope is the one its schema and `CloudEvent` make. A
    step's request digest is that of `json.dumps`' sorted, compact text."""
    invoice_id = await register(gateway)
    response = await post(gateway, invoice_id, "envelope")
    assert response.status_code == 201, response.text
    async with gateway.sessionmaker() as session:
        invoice = await get_invoice(session, invoice_id)
        run = await session.get_one(WorkflowRunRow, response.json()["run_id"])
        stored = (
            await session.execute(
                select(EventOutboxRow).where(
                    EventOutboxRow.subject == invoice_id,
                    EventOutboxRow.type == InvoicePosted.event_type,
                )
            )
        ).scalar_one()
    expected = invoice_events.posted(invoice, run, partner_id=stored.partner_id)
    envelope = expected.model_dump(mode="json")
    envelope["time"] = stored.envelope["time"]  # the moment it was built
    assert stored.envelope == envelope
    assert stored.event_id == expected.id == event_id(InvoicePosted.event_type, run.id)
    assert CloudEvent.model_validate(stored.envelope).data == envelope["data"]
    async with gateway.sessionmaker() as session:
        steps = {step.name: step for step in (await get_run(session, run.id)).steps}
    sent = json.dumps({"document_id": invoice.erp_ref}, sort_keys=True, separators=(",", ":"))
    assert steps["post_document"].request_digest == hashlib.sha256(sent.encode()).hexdigest()
