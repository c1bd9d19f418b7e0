"""A run's status written by SQL Core (`write_run`) records the exception queue's events
exactly as a flush of the same change does: one rule, `queue_events`, for both paths."""

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import inspect, select

from core.errors import ErrorClass
from core.models.event_outbox import EventOutboxRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.runs.engine import CLOSED_COLUMNS, Engine, mark_failed, mark_succeeded
from process_apis.runs.repository import write_run
from tests.conftest import Gateway

FAILED_COLUMNS = (*CLOSED_COLUMNS[:1], *CLOSED_COLUMNS[2:])  # all but the result


def succeed(run: WorkflowRunRow) -> None:
    mark_succeeded(run, {"ok": True})


def fail(run: WorkflowRunRow) -> None:
    mark_failed(run, RuntimeError("an answer the contract does not allow"))


# (stored status, stored error class, change, its columns)
CHANGES: list[tuple[RunStatus, ErrorClass | None, Callable[[WorkflowRunRow], None], Any]] = [
    (RunStatus.RUNNING, None, succeed, CLOSED_COLUMNS),  # a first attempt: no events
    (RunStatus.RUNNING, ErrorClass.TRANSIENT, succeed, CLOSED_COLUMNS),  # a replay
    (RunStatus.RUNNING, ErrorClass.BUSINESS, succeed, CLOSED_COLUMNS),  # a fixed one
    (RunStatus.PENDING_RETRY, ErrorClass.TRANSIENT, succeed, CLOSED_COLUMNS),
    (RunStatus.RUNNING, None, fail, FAILED_COLUMNS),  # enters the queue
    (RunStatus.SUCCEEDED, None, succeed, CLOSED_COLUMNS),  # no status change
]


async def stored_run(
    gateway: Gateway, subject_id: str, status: RunStatus, error_class: ErrorClass | None
) -> WorkflowRunRow:
    """A run as a workflow holds it after the transaction that took it: detached."""
    async with gateway.sessionmaker.begin() as session:
        run = Engine(gateway.sessionmaker, steps=()).new_run(
            workflow="invoice_posting",
            subject_id=subject_id,
            legal_entity_id=None,
            params={},
            correlation_id=None,
            client_id=None,
        )
        run.status = status
        run.error_class = error_class
        run.error_detail = "the ERP did not answer" if error_class else None
        session.add(run)
    return run


async def recorded(gateway: Gateway, subject_id: str) -> list[str]:
    async with gateway.sessionmaker() as session:
        rows = await session.scalars(
            select(EventOutboxRow.type)
            .where(EventOutboxRow.subject == subject_id)
            .order_by(EventOutboxRow.sequence)
        )
        return list(rows)


@pytest.mark.parametrize(("status", "error_class", "change", "columns"), CHANGES)
async def test_a_core_write_records_what_a_flush_records(
    gateway: Gateway,
    status: RunStatus,
    error_class: ErrorClass | None,
    change: Callable[[WorkflowRunRow], None],
    columns: tuple[str, ...],
) -> None:
    flushed = await stored_run(gateway, "inv_flushed", status, error_class)
    async with gateway.sessionmaker.begin() as session:
        run = await session.merge(flushed, load=False)
        change(run)
    written = await stored_run(gateway, "inv_written", status, error_class)
    change(written)
    async with gateway.sessionmaker.begin() as session:
        await write_run(session, written, columns)

    assert await recorded(gateway, "inv_written") == await recorded(gateway, "inv_flushed")
    async with gateway.sessionmaker() as session:
        stored = await session.get_one(WorkflowRunRow, written.id)
    assert (stored.status, stored.error_class, stored.version) == (
        written.status,
        written.error_class,
        written.version,
    )
    # Written: no change pending on the run, so a later write records nothing again.
    assert not inspect(written).attrs.status.history.has_changes()
    async with gateway.sessionmaker.begin() as session:
        await session.merge(written)
    assert await recorded(gateway, "inv_written") == await recorded(gateway, "inv_flushed")


async def test_a_replayed_runs_success_written_by_core_resolves_its_exception(
    gateway: Gateway,
) -> None:
    run = await stored_run(gateway, "inv_replayed", RunStatus.RUNNING, ErrorClass.TRANSIENT)
    succeed(run)
    async with gateway.sessionmaker.begin() as session:
        await write_run(session, run, CLOSED_COLUMNS)
    assert await recorded(gateway, "inv_replayed") == ["com.ledgergate.exception.resolved.v1"]
