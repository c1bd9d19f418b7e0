"""What the event benchmarks and the event chaos checks share.

Events of many subjects, each subject's events numbered in order (`attempts`), recorded
through the outbox in batches; a JetStream reader; and `Tally`, a consumer that
de-duplicates by event id, counting the duplicates it dropped and checking each
subject's order among first deliveries.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import nats
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.models.event_outbox import EventOutboxRow
from events.catalog import CATALOG, family
from events.envelope import CloudEvent
from events.nats import NatsSink
from events.outbox import record_all
from events.schemas.exception import ExceptionOpened

NATS_URL = os.environ.get("LEDGERGATE_BENCH_NATS_URL", "nats://127.0.0.1:4222")
FAMILY = "exception"  # every generated event is an `exception.opened`
WINDOW = timedelta(minutes=2)


def new_tag(kind: str) -> str:
    """A prefix of its own for one run: NATS subjects and streams, event subjects."""
    return f"{kind}{uuid.uuid4().hex[:8]}"


def event(tag: str, index: int, subjects: int, *, at: datetime | None = None) -> CloudEvent:
    """Event `index` of a run: subject `index % subjects`, numbered within its subject."""
    subject = f"{tag}_{index % subjects}"
    data = ExceptionOpened(
        run_id=f"run_{subject}",
        workflow="invoice_posting",
        subject_id=subject,
        status="pending_retry",
        error_class="transient",
        error_type=None,
        attempts=index // subjects,
    )
    return data.event(subject=subject, fact=(tag, str(index)), time=at)


def events(tag: str, first: int, count: int, subjects: int) -> Iterator[CloudEvent]:
    return (event(tag, index, subjects) for index in range(first, first + count))


async def record(
    sessionmaker: async_sessionmaker[AsyncSession], batch: Iterable[CloudEvent]
) -> None:
    """Record `batch` in one transaction, as a workflow step records its events."""
    async with sessionmaker.begin() as session:
        await record_all(session, batch)


async def record_many(
    sessionmaker: async_sessionmaker[AsyncSession],
    tag: str,
    count: int,
    *,
    subjects: int,
    per_commit: int = 1000,
) -> float:
    """Record `count` events of `tag`, `per_commit` per transaction; returns seconds taken."""
    started = time.perf_counter()
    for first in range(0, count, per_commit):
        await record(sessionmaker, events(tag, first, min(per_commit, count - first), subjects))
    return time.perf_counter() - started


async def unpublished(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        found = await session.scalar(
            select(func.count()).where(EventOutboxRow.published_at.is_(None))
        )
    return int(found or 0)


@dataclass
class Tally:
    """A consumer that de-duplicates by event id: first deliveries kept in order."""

    order: dict[str, list[int]] = field(default_factory=dict)
    ids: set[str] = field(default_factory=set)
    duplicates: int = 0

    def take(self, event_id: str, payload: bytes) -> None:
        if event_id in self.ids:
            self.duplicates += 1
            return
        self.ids.add(event_id)
        body = json.loads(payload)
        self.order.setdefault(body["subject"], []).append(body["data"]["attempts"])

    def lost(self, expected: Iterable[str]) -> int:
        return sum(1 for event_id in expected if event_id not in self.ids)

    def out_of_order(self) -> int:
        """Subjects whose first deliveries are not in recording order."""
        return sum(1 for seen in self.order.values() if seen != sorted(seen))

    def line(self, expected: list[str]) -> str:
        return (
            f"{len(expected)} recorded, {self.lost(expected)} lost, "
            f"{self.duplicates} duplicates by id dropped by the consumer, "
            f"{self.out_of_order()} of {len(self.order)} subjects out of order"
        )

    def passed(self, expected: list[str]) -> bool:
        return self.lost(expected) == 0 and self.out_of_order() == 0


async def read_stream(url: str, prefix: str, tally: Tally, *, timeout: float = 5.0) -> int:
    """Every message of the run's stream into `tally`, by `Nats-Msg-Id`; returns how many."""
    client = await nats.connect(url, connect_timeout=5)
    try:
        stream: JetStreamContext = client.jetstream()
        name = NatsSink(url, prefix=prefix, duplicate_window=WINDOW).stream_name(FAMILY)
        total = (await stream.stream_info(name)).state.messages
        subscription = await stream.pull_subscribe(
            f"{prefix}.{FAMILY}.>", config=ConsumerConfig(ack_policy=AckPolicy.NONE)
        )
        read = 0
        while read < total:
            for message in await subscription.fetch(min(1000, total - read), timeout=timeout):
                headers = message.headers or {}
                tally.take(headers.get("Nats-Msg-Id", ""), message.data)
                read += 1
        await subscription.unsubscribe()
        return read
    finally:
        await client.close()


async def delete_streams(url: str, prefix: str) -> None:
    """Remove the streams a run's sink created."""
    client = await nats.connect(url, connect_timeout=5)
    try:
        stream = client.jetstream()
        sink = NatsSink(url, prefix=prefix, duplicate_window=WINDOW)
        for event_family in {family(event_type) for event_type in CATALOG}:
            try:
                await stream.delete_stream(sink.stream_name(event_family))
            except nats.js.errors.NotFoundError:
                pass
    finally:
        await client.close()
