"""NATS restarted mid-stream: the broker stops while events are recorded and relayed.

A private nats-server (its own port and store directory) takes the relay worker's
events; a recorder commits events at a steady pace over many subjects; a third of the
way in the server is stopped for `outage` seconds and started again on the same store.
The relay's failed passes are retried; the stream is then read by a consumer that
de-duplicates by event id: nothing may be missing and every subject must be in order.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.eventkit import Tally, events, new_tag, read_stream, record
from chaos.eventkit import (
    NatsServer,
    database,
    drained,
    failures_logged,
    nats_server,
    sessions,
    start_relay,
    stop,
)
from chaos.report import Outcome
from events.envelope import CloudEvent

CHECK = "NATS restarted mid-stream"
SUBJECTS = 200
PER_COMMIT = 20
PAUSE = 0.01  # between commits: about 2,000 events a second


def run(count: int, logs: Path, *, outage: float) -> Outcome:
    with database() as url, nats_server(logs, "nats-restart") as server:
        return asyncio.run(_restart(url, server, count, logs, outage))


async def _restart(url: str, server: NatsServer, count: int, logs: Path, outage: float) -> Outcome:
    tag = new_tag("nr")
    log = logs / "nats-restart-relay.log"
    relay = start_relay(url, server.url, tag, log)
    recorded = list(events(tag, 0, count, SUBJECTS))
    third = count // 3
    async with sessions(url) as sessionmaker:
        try:
            await _paced(sessionmaker, recorded[:third])
            server.stop()
            await asyncio.gather(
                _paced(sessionmaker, recorded[third:]), _back_after(server, outage)
            )
            done = await drained(sessionmaker)
        finally:
            stop(relay)
    tally = Tally()
    await read_stream(server.url, tag, tally)
    expected = [event.id for event in recorded]
    summary = (
        f"{tally.line(expected)}; server down {outage:.0f} s a third of the way in, "
        f"{failures_logged(log)} relay passes failed meanwhile"
    )
    details = [] if done else ["the outbox did not drain"]
    if not tally.passed(expected):
        details.append(f"see {log}")
    return Outcome(CHECK, done and tally.passed(expected), summary, details)


async def _paced(sessionmaker: async_sessionmaker[AsyncSession], batch: list[CloudEvent]) -> None:
    """Commit `batch`, `PER_COMMIT` events a transaction, at a steady pace."""
    for first in range(0, len(batch), PER_COMMIT):
        await record(sessionmaker, batch[first : first + PER_COMMIT])
        await asyncio.sleep(PAUSE)


async def _back_after(server: NatsServer, outage: float) -> None:
    await asyncio.sleep(outage)
    await asyncio.to_thread(server.start)
