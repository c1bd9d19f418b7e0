"""The outbox on both databases: one row per event id, and only with its state change."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import create_engine, create_sessionmaker
from core.models.base import utcnow
from core.models.event_outbox import EventOutboxRow
from core.models.reconciliation import ReconciliationRunRow
from core.models.webhook_event import WebhookReceiptRow
from events.catalog import UnknownEventType
from events.envelope import new_event
from events.outbox import record
from events.schemas.reconciliation import completed
from tests.support.databases import fresh_database


def _reconciliation_run() -> ReconciliationRunRow:
    return ReconciliationRunRow(
        id="rec_1",
        legal_entity_id="le_1",
        period="2026-11",
        trigger="api",
        status="completed",
        clean=False,
        difference_count=3,
    )


async def _rows(sessionmaker: async_sessionmaker[AsyncSession]) -> list[EventOutboxRow]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(EventOutboxRow))).all())


async def _change_and_record(sessionmaker: async_sessionmaker[AsyncSession], *, fail: bool) -> None:
    """A state change (a row) and its event in one transaction, which fails if `fail`."""
    async with sessionmaker.begin() as session:
        session.add(WebhookReceiptRow(provider="stripe", event_id="evt_1", received_at=utcnow()))
        await record(session, completed(_reconciliation_run()))
        await session.flush()
        if fail:
            raise RuntimeError("the state change failed after it was written")


async def test_the_same_event_id_twice_is_one_row(database_url: str, tmp_path: Path) -> None:
    engine = create_engine(await fresh_database(database_url, tmp_path))
    sessionmaker = create_sessionmaker(engine)
    event = completed(_reconciliation_run(), correlation_id="corr-1")
    try:
        async with sessionmaker.begin() as session:
            await record(session, event, event)
        async with sessionmaker.begin() as session:
            await record(session, completed(_reconciliation_run()))
        rows = await _rows(sessionmaker)
    finally:
        await engine.dispose()
    assert [row.event_id for row in rows] == [event.id]
    assert rows[0].type == "com.ledgergate.reconciliation.completed.v1"
    assert rows[0].envelope["data"]["difference_count"] == 3
    assert rows[0].envelope["correlationid"] == "corr-1"
    assert rows[0].published_at is None


async def test_the_event_is_rolled_back_with_its_state_change(
    database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(await fresh_database(database_url, tmp_path))
    sessionmaker = create_sessionmaker(engine)
    counted = [select(func.count()).select_from(t) for t in (WebhookReceiptRow, EventOutboxRow)]
    try:
        with pytest.raises(RuntimeError):
            await _change_and_record(sessionmaker, fail=True)
        async with sessionmaker() as session:
            after_failure = [await session.scalar(count) for count in counted]
        await _change_and_record(sessionmaker, fail=False)
        async with sessionmaker() as session:
            after_success = [await session.scalar(count) for count in counted]
    finally:
        await engine.dispose()
    assert after_failure == [0, 0]
    assert after_success == [1, 1]


async def test_an_event_its_schema_does_not_describe_is_refused(
    database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(await fresh_database(database_url, tmp_path))
    sessionmaker = create_sessionmaker(engine)
    wrong = new_event(
        "com.ledgergate.reconciliation.completed.v1",
        fact=("x",),
        subject="rec_1",
        data={"run_id": "rec_1"},
        time=utcnow(),
    )
    unknown = new_event(
        "com.ledgergate.invoice.printed.v1", fact=("x",), subject="inv_1", data={}, time=utcnow()
    )
    try:
        async with sessionmaker.begin() as session:
            with pytest.raises(ValidationError):
                await record(session, wrong)
            with pytest.raises(UnknownEventType):
                await record(session, unknown)
    finally:
        await engine.dispose()
