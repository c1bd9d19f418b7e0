"""The retention purge: usage events whose period ended longer ago than the retention."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.models.base import utcnow
from core.settings import UsageSettings
from process_apis.usage import repository


class UsagePurge:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: UsageSettings,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.clock = clock

    async def run_once(self) -> int:
        """Purge in short transactions of `purge_batch` rows; how many were purged."""
        cutoff = self.clock() - self.settings.retention
        purged = 0
        while True:
            async with self.sessionmaker.begin() as session:
                count = await repository.purge_before(
                    session, cutoff, batch=self.settings.purge_batch
                )
            purged += count
            if count < self.settings.purge_batch:
                return purged
