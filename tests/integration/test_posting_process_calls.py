"""The posting workflow's own Python work, counted so a regression fails, and the answers
it gives unchanged by what it no longer reads or builds."""

from datetime import date, timedelta

import pytest
from sqlalchemy import inspect, select, text

from app.seed import demo_id
from core.canonical.parties import ClosedPeriodPolicy
from core.errors import LedgergateError
from core.folded import execute_folded
from core.ids import new_id
from core.models.legal_entity import AccountingPeriodRow
from core.models.workflow_run import WorkflowRunRow
from process_apis.legal_entities.periods import posting_date_for, resolve_posting_date
from process_apis.legal_entities.snapshot import legal_entity_snapshot
from process_apis.runs.engine import Engine
from process_apis.runs.repository import taken_run
from tests.conftest import Gateway
from tests.integration.test_invoice_posting import post, register
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


async def test_a_posting_reads_only_the_periods_that_decide_its_date(gateway: Gateway) -> None:
    # The seeded entity has 25 periods; the posting needs the one covering its day (and,
    # were it closed, the next open one): 25 rows loaded were some 400 calls.
    called = await posted_calls(gateway, "periods")
    assert calls_in(called, "legal_entities/snapshot.py") <= 16


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
            snapshot = await legal_entity_snapshot(session, ENTITY, on=day)
            assert len(snapshot.periods) <= 2
            try:
                expected = resolve_posting_date(day, periods=every, policy=policy).isoformat()
            except LedgergateError as error:
                expected = type(error).__name__
            assert outcome(snapshot, day) == expected, day
            day += timedelta(days=9)


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
