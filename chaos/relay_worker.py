"""`python -m chaos.relay_worker DATABASE_URL NATS_URL PREFIX`: the worker's relay alone.

The event checks kill and restart this process: it runs the relay as `ledgergate
worker` does (the configured sinks, woken by NOTIFY, its interval the fallback) and
nothing else, so no sandbox processes are needed. SIGTERM stops it after the pass.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from core.db import create_engine, create_sessionmaker
from core.settings import EventSettings
from events.relay import Relay, run_forever
from events.sinks import close_sinks, configured_sinks


async def relay(database_url: str, nats_url: str, prefix: str) -> None:
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    settings = EventSettings(nats_url=nats_url, nats_stream_prefix=prefix)
    sinks = configured_sinks(settings, sessionmaker)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    worker = Relay(sessionmaker, sinks, batch=settings.relay_batch)
    try:
        await run_forever(worker, engine, interval=settings.relay_interval_seconds, stop=stop)
    finally:
        await close_sinks(sinks)
        await engine.dispose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(relay(*sys.argv[1:4]))
