"""Relay throughput: the PostgreSQL outbox to JetStream, acknowledged, against raw nats-py.

Each contender runs in a process of its own (as a worker replica would) and starts on
one signal once it has imported and connected, so start-up is not timed: the relay as
the worker configures it (the webhook fan-out and the NATS sink), one or two replicas
until the outbox is empty, and the same messages published straight with nats-py
(`publish_async`, acknowledgements awaited per window of the relay's batch).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.synchronize import Event as Signal
from queue import Queue
from typing import Any

import nats

from bench.eventkit import WINDOW, events, unpublished
from core.db import create_engine, create_sessionmaker
from core.settings import EventSettings
from events.nats import ACK_TIMEOUT_SECONDS, NatsSink
from events.relay import BATCH, Relay
from events.sinks import close_sinks, configured_sinks

SPAWN = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class Rate:
    events: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def race(target: Callable[..., None], arguments: list[tuple[Any, ...]], count: int) -> Rate:
    """Start one process per argument tuple; time from the common start to the last end."""
    ready, go, done = SPAWN.Queue(), SPAWN.Event(), SPAWN.Queue()
    processes = [
        SPAWN.Process(target=target, args=(*args, ready, go, done), daemon=True)
        for args in arguments
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=120)
    started = time.time()
    go.set()
    ended = max(done.get(timeout=600) for _ in processes)
    for process in processes:
        process.join(timeout=30)
    return Rate(count, ended - started)


def relay_replica(
    url: str, nats_url: str, prefix: str, ready: Queue[str], go: Signal, done: Queue[float]
) -> None:
    """A worker's relay, passing until the outbox holds nothing unpublished."""
    asyncio.run(_relay_until_empty(url, nats_url, prefix, ready, go, done))


async def _relay_until_empty(
    url: str, nats_url: str, prefix: str, ready: Queue[str], go: Signal, done: Queue[float]
) -> None:
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    settings = EventSettings(nats_url=nats_url, nats_stream_prefix=prefix)
    sinks = configured_sinks(settings, sessionmaker)
    relay = Relay(sessionmaker, sinks, batch=settings.relay_batch)
    ready.put("ready")
    await asyncio.get_running_loop().run_in_executor(None, go.wait)
    while True:
        report = await relay.run_once()
        if report.full:
            continue
        if await unpublished(sessionmaker) == 0:
            break
        await asyncio.sleep(0.005)  # the other replica holds what is left
    done.put(time.time())
    await close_sinks(sinks)
    await engine.dispose()


def raw_publisher(
    nats_url: str,
    prefix: str,
    tag: str,
    count: int,
    subjects: int,
    ready: Queue[str],
    go: Signal,
    done: Queue[float],
) -> None:
    """The baseline: the same messages published straight with nats-py, acknowledged."""
    asyncio.run(_raw_publish(nats_url, prefix, tag, count, subjects, ready, go, done))


async def _raw_publish(
    nats_url: str,
    prefix: str,
    tag: str,
    count: int,
    subjects: int,
    ready: Queue[str],
    go: Signal,
    done: Queue[float],
) -> None:
    sink = NatsSink(nats_url, prefix=prefix, duplicate_window=WINDOW)
    messages = [
        (sink.subject(e.type), e.model_dump_json().encode(), {"Nats-Msg-Id": e.id})
        for e in events(tag, 0, count, subjects)
    ]
    client = await nats.connect(nats_url)
    stream = client.jetstream()
    await sink.ensure_streams(stream)
    ready.put("ready")
    await asyncio.get_running_loop().run_in_executor(None, go.wait)
    for first in range(0, count, BATCH):
        pending = [
            await stream.publish_async(subject, payload, headers=headers)
            for subject, payload, headers in messages[first : first + BATCH]
        ]
        await asyncio.wait_for(asyncio.gather(*pending), timeout=ACK_TIMEOUT_SECONDS)
    done.put(time.time())
    await client.close()
