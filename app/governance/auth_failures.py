"""Failed authentications in the audit trail: one row per source address and minute.

A row per refused token would let anyone without credentials make the gateway write
to its database as fast as they can send requests. Failures are counted in memory
per source address and minute; once a minute is over its counts are appended as one
row per source with a `count` (the trail stays append-only), and what is pending is
written at shutdown. Each replica counts its own, so with several replicas a source
has up to one row per replica and minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.ids import new_id
from core.models.audit_event import AuditEventRow

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 5.0
ACTION = "authentication"


def minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


class FailedAuthTally:
    """Counts failures by (source, minute) and appends finished minutes in the background."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self.pending: Counter[tuple[str, datetime]] = Counter()
        self._task: asyncio.Task[None] | None = None

    def add(self, source: str) -> None:
        self.pending[(source, minute_of(datetime.now(UTC)))] += 1

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush(finished_only=False)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            await self.flush()

    async def flush(self, *, finished_only: bool = True) -> None:
        """Append a row per source for each finished minute (or every minute)."""
        current = minute_of(datetime.now(UTC))
        due = {
            key: count
            for key, count in self.pending.items()
            if not finished_only or key[1] < current
        }
        if not due:
            return
        for key in due:
            del self.pending[key]
        try:
            async with self.sessionmaker.begin() as session:
                session.add_all(
                    AuditEventRow(
                        id=new_id("audit_event"),
                        occurred_at=minute,
                        action=ACTION,
                        outcome="denied",
                        status_code=401,
                        source_ip=source[:64],
                        count=count,
                    )
                    for (source, minute), count in sorted(due.items())
                )
        except Exception as error:  # counts are lost, never the gateway: say so loudly
            lost = sum(due.values())
            logger.error("audit.auth_failures_lost", extra={"count": lost, "error": repr(error)})
