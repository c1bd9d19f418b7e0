"""The relay: publishes recorded events to every sink, in commit order per subject.

Each pass offers every sink (not waiting out a backoff) the rows it may take now
(`events.claim`), holding their lanes while the sink takes them, and marks them taken
by that sink once it has acknowledged them. A failing sink is retried with exponential
backoff and is never offered the same rows by another path meanwhile; the other sinks
go on. A row is `published` once every configured sink has taken it. A relay that dies
holds nothing: its lanes are released with its connection, and its rows are offered
again.

On PostgreSQL a trigger NOTIFYs on every recording transaction, and the loop wakes on
it (`events.wakeup`); the interval is the fallback, not the pace.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import BigInteger, and_, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.metrics import EVENT_SINK_FAILURES, EVENTS_PUBLISHED, OUTBOX_LAG
from core.models.base import utcnow
from core.models.event_outbox import EventOutboxRow, EventPublicationRow
from events.claim import among, claim
from events.envelope import CloudEvent
from events.sink import EventSink
from events.wakeup import listen

logger = logging.getLogger(__name__)

BATCH = 500


@dataclass
class Backoff:
    """A sink's consecutive failures and when it may be offered events again."""

    base_seconds: float
    cap_seconds: float
    failures: int = 0
    retry_at: float = 0.0

    def failed(self, now: float) -> None:
        self.failures += 1
        self.retry_at = now + min(self.cap_seconds, self.base_seconds * 2 ** (self.failures - 1))

    def succeeded(self) -> None:
        self.failures = 0
        self.retry_at = 0.0


@dataclass
class RelayReport:
    """What one pass did: events taken per sink, and the sinks that failed."""

    published: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    full: bool = False  # a sink took a whole batch or left lanes for later: more may wait


class Relay:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        sinks: Sequence[EventSink],
        *,
        batch: int = BATCH,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.sinks = tuple(sinks)
        self.batch = batch
        self.clock = clock
        self.backoff = {
            sink.name: Backoff(backoff_seconds, max_backoff_seconds) for sink in self.sinks
        }

    async def run_once(self) -> RelayReport:
        """Offer each sink that is due what it may take now; then update the lag metric."""
        report = RelayReport()
        if not self.sinks:
            await self._publish_to_nobody()
        for sink in self.sinks:
            backoff = self.backoff[sink.name]
            if backoff.retry_at > self.clock():
                continue
            try:
                report.published[sink.name], more = await self._publish(sink)
            except Exception:
                backoff.failed(self.clock())
                report.failed.append(sink.name)
                EVENT_SINK_FAILURES.labels(sink.name).inc()
                logger.exception(
                    "events.sink.failed", extra={"sink": sink.name, "failures": backoff.failures}
                )
            else:
                backoff.succeeded()
                report.full = report.full or more
        OUTBOX_LAG.set(await self.lag_seconds())
        return report

    async def _publish(self, sink: EventSink) -> tuple[int, bool]:
        """One batch to `sink`, marked taken in the claiming transaction once acknowledged;
        how many it took, and whether more may be waiting."""
        async with self.sessionmaker.begin() as session:
            claimed = await claim(session, sink.name, limit=self.batch)
            if not claimed.rows:
                return 0, claimed.more
            await sink.publish(
                [CloudEvent.model_validate_json(row.envelope) for row in claimed.rows]
            )
            await self._mark(session, sink.name, [row.sequence for row in claimed.rows])
        EVENTS_PUBLISHED.labels(sink.name).inc(len(claimed.rows))
        return len(claimed.rows), claimed.more

    async def _mark(self, session: AsyncSession, sink: str, sequences: list[int]) -> None:
        """Record `sink` took `sequences`; those every sink has taken become published.

        The rows are locked first: of two sinks marking one row at once, the second then
        counts the first's publication, and one of them publishes the row.
        """
        now, dialect = utcnow(), _dialect(session)
        these = among(EventOutboxRow.sequence, sequences, dialect)
        await session.execute(
            select(EventOutboxRow.sequence)
            .where(these)
            .order_by(EventOutboxRow.sequence)
            .with_for_update()
        )
        if dialect == "postgresql":
            taken_now = select(
                func.unnest(literal(sequences, ARRAY(BigInteger))), literal(sink), literal(now)
            )
            await session.execute(
                postgresql.insert(EventPublicationRow)
                .from_select(["sequence", "sink", "published_at"], taken_now)
                .on_conflict_do_nothing()
            )
        else:
            await session.execute(
                sqlite.insert(EventPublicationRow).on_conflict_do_nothing(),
                [{"sequence": number, "sink": sink, "published_at": now} for number in sequences],
            )
        taken = (
            select(func.count())
            .where(
                EventPublicationRow.sequence == EventOutboxRow.sequence,
                EventPublicationRow.sink.in_([s.name for s in self.sinks]),
            )
            .scalar_subquery()
        )
        await session.execute(
            update(EventOutboxRow)
            .where(and_(these, taken >= len(self.sinks)))
            .values(published_at=now)
            .execution_options(synchronize_session=False)
        )

    async def _publish_to_nobody(self) -> None:
        """With no sink configured there is nobody to wait for: every event is published."""
        async with self.sessionmaker.begin() as session:
            await session.execute(
                update(EventOutboxRow)
                .where(EventOutboxRow.published_at.is_(None))
                .values(published_at=utcnow())
                .execution_options(synchronize_session=False)
            )

    async def lag_seconds(self) -> float:
        """Age of the first recorded event not yet published (0 when none waits); read
        through the unpublished rows' index, so it costs the same however many wait."""
        async with self.sessionmaker() as session:
            oldest = await session.scalar(
                select(EventOutboxRow.recorded_at)
                .where(EventOutboxRow.published_at.is_(None))
                .order_by(EventOutboxRow.sequence)
                .limit(1)
            )
        if oldest is None:
            return 0.0
        return max(0.0, (utcnow() - oldest).total_seconds())


async def run_forever(
    relay: Relay, engine: AsyncEngine, *, interval: float, stop: asyncio.Event
) -> None:
    """Passes until `stop` is set: at once after a full batch, on a NOTIFY, or after
    `interval`. A failed pass (the database restarting) is logged and tried again."""
    wake = asyncio.Event()
    async with listen(engine, wake):
        while not stop.is_set():
            wake.clear()
            full = False
            try:
                full = (await relay.run_once()).full
            except Exception:
                logger.exception("events.relay.pass.failed")
            if not full:
                await _first_of(stop, wake, timeout=interval)


async def _first_of(*events: asyncio.Event, timeout: float) -> None:
    waits = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name
