"""The worker killed with SIGKILL mid-relay, then started again.

Events are recorded over many subjects; a relay worker process publishes them to
JetStream (streams of the check's own on the machine's NATS server) and is killed with
SIGKILL once a quarter are published, while it holds a claimed batch. Its row locks go
with its connection; a new worker takes over. A consumer that de-duplicates by event id
then reads the stream: nothing may be missing and every subject must be in order.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.eventkit import NATS_URL, Tally, delete_streams, new_tag, read_stream, record_many
from bench.eventkit import events as generated
from chaos.eventkit import database, drained, sessions, start_relay, stop
from chaos.report import Outcome
from core.models.event_outbox import EventOutboxRow

CHECK = "worker SIGKILLed mid-relay"
SUBJECTS = 500
KILL_WAIT_SECONDS = 60.0


def run(count: int, logs: Path) -> Outcome:
    with database() as url:
        return asyncio.run(_kill(url, count, logs))


async def _kill(url: str, count: int, logs: Path) -> Outcome:
    tag = new_tag("kill")
    log = logs / "relay-kill-relay.log"
    async with sessions(url) as sessionmaker:
        await record_many(sessionmaker, tag, count, subjects=SUBJECTS)
        first = start_relay(url, NATS_URL, tag, log)
        published_at_kill = await _published_past(sessionmaker, count // 4)
        os.kill(first.pid, signal.SIGKILL)
        killed = first.wait(timeout=10) == -signal.SIGKILL
        second = start_relay(url, NATS_URL, tag, log)
        try:
            done = await drained(sessionmaker)
        finally:
            stop(second)
    tally = Tally()
    try:
        await read_stream(NATS_URL, tag, tally)
    finally:
        await delete_streams(NATS_URL, tag)
    expected = [event.id for event in generated(tag, 0, count, SUBJECTS)]
    summary = (
        f"{tally.line(expected)}; SIGKILL with {published_at_kill} of {count} published, "
        "a new worker finished the rest"
    )
    details = [] if done else ["the outbox did not drain"]
    if not killed:
        details.append("the worker did not die of the SIGKILL")
    if published_at_kill >= count:
        details.append("the kill came after the relay had finished")
    passed = done and killed and tally.passed(expected) and published_at_kill < count
    return Outcome(CHECK, passed, summary, details)


async def _published_past(sessionmaker: async_sessionmaker[AsyncSession], threshold: int) -> int:
    """Wait until at least `threshold` events are published; returns how many are."""
    deadline = time.monotonic() + KILL_WAIT_SECONDS
    published = 0
    while time.monotonic() < deadline:
        async with sessionmaker() as session:
            published = int(
                await session.scalar(
                    select(func.count()).where(EventOutboxRow.published_at.is_not(None))
                )
                or 0
            )
        if published >= threshold:
            break
        await asyncio.sleep(0.02)
    return published
