"""The relay on both databases: order per subject across replicas, sinks apart, lag."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import create_engine, create_sessionmaker
from core.metrics import OUTBOX_LAG
from core.models.event_outbox import EventOutboxRow
from events.claim import Claimed, claim
from events.outbox import record
from events.relay import Relay, run_forever
from tests.support.databases import fresh_database
from tests.support.events import Consumer, RecordingSink, opened

SUBJECTS = [f"inv_{n}" for n in range(6)]


@pytest.fixture
async def sessionmaker(
    database_url: str, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(await fresh_database(database_url, tmp_path))
    yield create_sessionmaker(engine)
    await engine.dispose()


async def _record_rounds(
    sessionmaker: async_sessionmaker[AsyncSession], rounds: int, *, start: int = 0
) -> None:
    """`rounds` transactions, each recording one event of every subject."""
    for attempt in range(start, start + rounds):
        async with sessionmaker.begin() as session:
            await record(session, *(opened(subject, attempt) for subject in SUBJECTS))
        await asyncio.sleep(0.005)


async def _order(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, list[str]]:
    """Every subject's event ids in recording order."""
    async with sessionmaker() as session:
        rows = (await session.scalars(select(EventOutboxRow).order_by("sequence"))).all()
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row.subject, []).append(row.event_id)
    return found


async def _drain(relay: Relay, recorded: asyncio.Event) -> None:
    """Passes while events are recorded, then until nothing waits (a bounded number)."""
    for _ in range(1000):
        await relay.run_once()
        await asyncio.sleep(0)
        if recorded.is_set() and await relay.lag_seconds() == 0.0:
            return
    raise AssertionError("the relay did not drain the outbox")


async def test_two_relays_publish_in_order_per_subject(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    consumer = Consumer()
    relays = [
        Relay(sessionmaker, [RecordingSink("webhooks", consumer, delay=0.02)], batch=7)
        for _ in range(2)
    ]
    recorded = asyncio.Event()

    async def record_then_signal() -> None:
        await _record_rounds(sessionmaker, 12)
        recorded.set()

    await asyncio.gather(record_then_signal(), *(_drain(relay, recorded) for relay in relays))

    expected = await _order(sessionmaker)
    assert consumer.by_subject() == expected
    assert sum(len(ids) for ids in expected.values()) == 12 * len(SUBJECTS)
    assert await relays[0].lag_seconds() == 0.0


async def test_a_failing_sink_is_retried_and_the_others_proceed(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock = [0.0]
    healthy, broken = Consumer(), Consumer()
    good = RecordingSink("nats", healthy)
    bad = RecordingSink("webhooks", broken, failing=True)
    relay = Relay(sessionmaker, [good, bad], backoff_seconds=10, clock=lambda: clock[0])
    await _record_rounds(sessionmaker, 2)

    first = await relay.run_once()
    assert first.published == {"nats": 12}
    assert first.failed == ["webhooks"]
    await _record_rounds(sessionmaker, 1, start=2)
    second = await relay.run_once()  # the broken sink waits out its backoff
    assert second.published == {"nats": 6}
    assert bad.calls == 1
    assert await relay.lag_seconds() > 0
    assert OUTBOX_LAG._value.get() > 0

    bad.failing = False
    clock[0] = 10.0
    third = await relay.run_once()
    assert third.published == {"nats": 0, "webhooks": 18}
    assert healthy.deliveries == 18  # nothing offered twice to the sink that took it
    assert broken.by_subject() == healthy.by_subject() == await _order(sessionmaker)
    assert await relay.lag_seconds() == 0.0
    assert OUTBOX_LAG._value.get() == 0


async def test_backoff_grows_while_a_sink_keeps_failing(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock = [0.0]
    bad = RecordingSink("webhooks", Consumer(), failing=True)
    relay = Relay(
        sessionmaker, [bad], backoff_seconds=1, max_backoff_seconds=4, clock=lambda: clock[0]
    )
    await _record_rounds(sessionmaker, 1)
    waits = []
    for _ in range(4):
        await relay.run_once()
        waits.append(relay.backoff["webhooks"].retry_at - clock[0])
        clock[0] = relay.backoff["webhooks"].retry_at
    assert waits == [1, 2, 4, 4]
    assert bad.calls == 4


async def test_without_sinks_events_are_published_to_nobody(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await _record_rounds(sessionmaker, 1)
    relay = Relay(sessionmaker, [])
    await relay.run_once()
    assert await relay.lag_seconds() == 0.0


async def test_a_recorded_event_wakes_the_relay_on_postgresql(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    engine = sessionmaker.kw["bind"]
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no notices: the relay polls on its interval")
    consumer = Consumer()
    relay = Relay(sessionmaker, [RecordingSink("webhooks", consumer)])
    stop = asyncio.Event()
    loop = asyncio.create_task(run_forever(relay, engine, interval=60, stop=stop))
    try:
        await asyncio.sleep(0.3)  # the first pass found nothing: it waits up to 60 s now
        await _record_rounds(sessionmaker, 1)
        async with asyncio.timeout(5):
            while len(consumer.seen) < len(SUBJECTS):
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await loop


async def test_a_full_batch_asks_for_another_pass_at_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await _record_rounds(sessionmaker, 2)
    relay = Relay(sessionmaker, [RecordingSink("webhooks", Consumer())], batch=len(SUBJECTS))
    assert (await relay.run_once()).full
    assert (await relay.run_once()).full
    assert not (await relay.run_once()).full


async def test_two_relays_claim_different_subjects_at_once_on_postgresql(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """With more than a batch waiting, a second relay takes the lanes the first left
    instead of waiting on its rows (subjects interleave in every batch)."""
    if sessionmaker.kw["bind"].dialect.name != "postgresql":
        pytest.skip("SQLite has a single writer: one relay claims at a time")
    await _record_rounds(sessionmaker, 4)
    order = await _order(sessionmaker)
    async with sessionmaker.begin() as first, sessionmaker.begin() as second:
        ours = await claim(first, "nats", limit=len(SUBJECTS))
        theirs = await claim(second, "nats", limit=len(SUBJECTS))
    assert ours.rows
    assert theirs.rows
    assert ours.more  # it left lanes to the other, and more waits
    assert theirs.more
    subjects = [await _subjects_of(sessionmaker, c.rows) for c in (ours, theirs)]
    assert not set(subjects[0]) & set(subjects[1])
    for taken in subjects:  # each subject's oldest events, in order
        for subject, ids in taken.items():
            assert ids == order[subject][: len(ids)]


async def _subjects_of(
    sessionmaker: async_sessionmaker[AsyncSession], rows: list[Claimed]
) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    async with sessionmaker() as session:
        for row in rows:
            event = await session.get(EventOutboxRow, row.sequence)
            assert event is not None
            found.setdefault(event.subject, []).append(event.event_id)
    return found
