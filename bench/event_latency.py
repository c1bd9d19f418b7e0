"""Commit-to-publish latency: a recorder committing at a steady rate, the worker's relay
woken by NOTIFY in a process of its own, and a JetStream consumer comparing each
message's stream timestamp (when JetStream stored it) with the event's `time` (set
just before the recording transaction commits, so the commit itself is counted)."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.synchronize import Event as Signal
from queue import Queue

import nats
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy

from bench.event_relay import SPAWN
from bench.eventkit import FAMILY, WINDOW, event, record
from core.db import create_engine, create_sessionmaker
from core.models.base import utcnow
from core.settings import EventSettings
from events.nats import NatsSink
from events.relay import Relay, run_forever
from events.sinks import close_sinks, configured_sinks

TICK_SECONDS = 0.01


@dataclass(frozen=True)
class Latency:
    rate: int
    seconds: float
    received: int
    sent: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def relay_worker(url: str, nats_url: str, prefix: str, ready: Queue[str], stop: Signal) -> None:
    """The worker's relay loop (NOTIFY, then its interval) until `stop` is set."""

    async def main() -> None:
        engine = create_engine(url)
        sessionmaker = create_sessionmaker(engine)
        settings = EventSettings(nats_url=nats_url, nats_stream_prefix=prefix)
        sinks = configured_sinks(settings, sessionmaker)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.run_in_executor(None, lambda: (stop.wait(), loop.call_soon_threadsafe(stopping.set)))
        ready.put("ready")
        relay = Relay(sessionmaker, sinks, batch=settings.relay_batch)
        await run_forever(relay, engine, interval=settings.relay_interval_seconds, stop=stopping)
        await close_sinks(sinks)
        await engine.dispose()

    asyncio.run(main())


async def measure(url: str, nats_url: str, prefix: str, *, rate: int, seconds: float) -> Latency:
    """Record `rate` events a second for `seconds` and time each to its publication."""
    ready, stop = SPAWN.Queue(), SPAWN.Event()
    worker = SPAWN.Process(target=relay_worker, args=(url, nats_url, prefix, ready, stop))
    worker.start()
    ready.get(timeout=120)
    samples: list[float] = []
    client = await nats.connect(nats_url)
    try:
        sink = NatsSink(nats_url, prefix=prefix, duplicate_window=WINDOW)
        await sink.ensure_streams(client.jetstream())

        async def took(message: Msg) -> None:
            published: datetime = message.metadata.timestamp
            at = datetime.fromisoformat(_time_of(message.data))
            samples.append((published - at).total_seconds() * 1000)

        await client.jetstream().subscribe(
            f"{prefix}.{FAMILY}.>", cb=took, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
        )
        sent = await _record_steadily(url, prefix, rate=rate, seconds=seconds)
        deadline = time.monotonic() + 30
        while len(samples) < sent and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        await client.close()
        stop.set()
        worker.join(timeout=30)
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return Latency(rate, seconds, len(samples), sent, cuts[49], cuts[98], max(samples))


def _time_of(payload: bytes) -> str:
    return str(json.loads(payload)["time"])


async def _record_steadily(url: str, tag: str, *, rate: int, seconds: float) -> int:
    """Commit `rate * TICK_SECONDS` events every tick, on a fixed schedule; returns the count."""
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    per_tick = max(1, round(rate * TICK_SECONDS))
    ticks = int(seconds / TICK_SECONDS)
    started = time.monotonic()
    try:
        for tick in range(ticks):
            delay = started + tick * TICK_SECONDS - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            first = tick * per_tick
            now = utcnow()
            batch = [event(tag, first + i, 50, at=now) for i in range(per_tick)]
            await record(sessionmaker, batch)
    finally:
        await engine.dispose()
    return ticks * per_tick
