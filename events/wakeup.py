"""Waking the relay when events are recorded: PostgreSQL LISTEN/NOTIFY.

The migration's trigger NOTIFYs `CHANNEL` once per transaction that records events;
`listen` holds one connection listening and sets an asyncio event on each notice.
SQLite has no notices: the relay there runs on its interval alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

logger = logging.getLogger(__name__)

CHANNEL = "ledgergate_outbox"


@asynccontextmanager
async def listen(engine: AsyncEngine, wake: asyncio.Event) -> AsyncIterator[bool]:
    """Set `wake` on every notice while inside; yields whether notices will come.

    A connection that cannot listen (SQLite, or the database away) yields False, and one
    lost later (a database restart) just stops the notices: the relay polls on its
    interval meanwhile.
    """
    if engine.dialect.name != "postgresql":
        yield False
        return

    def notice(*_args: Any) -> None:
        wake.set()

    connection: AsyncConnection | None = None
    try:
        connection = await engine.connect()
        raw: Any = (await connection.get_raw_connection()).driver_connection
        await raw.add_listener(CHANNEL, notice)
    except Exception:
        logger.warning("events.listen.unavailable", exc_info=True)
        if connection is not None:
            await connection.close()
        yield False
        return
    try:
        yield True
    finally:
        with suppress(Exception):  # a connection lost meanwhile listens no more anyway
            await raw.remove_listener(CHANNEL, notice)
        await connection.close()
