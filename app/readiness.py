"""Readiness, measured in the background: what `/readyz` serves.

Every `readiness_probe_seconds` one task checks the database, each backend and, when
the rate limits are kept in Redis, Redis, and keeps the result. `/readyz` answers
from it, so however often it is asked (it is public) it costs no backend call. A
backend whose circuit is half-open is probed through its breaker, so a backend that
came back closes its circuit without waiting for traffic; otherwise the probe goes
around the breaker (readiness observes a closed or open circuit, it does not move it).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from typing import Literal

from limits.aio.storage import MemoryStorage
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.backends import Backends
from app.governance.rate_limit import RateLimiter
from system_apis.circuit import CircuitState
from system_apis.http import probe

logger = logging.getLogger(__name__)


# The readiness monitor's statement, every few seconds on the gateway's own pool.
DATABASE_PROBE = "SELECT 1"


class Readiness(BaseModel):
    status: Literal["ready", "degraded", "unready"]
    checks: dict[str, str]
    circuits: dict[str, CircuitState] = Field(
        description="Circuit breaker state per backend: closed, half_open or open."
    )


class ReadinessMonitor:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        backends: Backends,
        limiter: RateLimiter,
        *,
        interval_seconds: float,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.backends = backends
        self.limiter = limiter
        self.interval = interval_seconds
        self.current = Readiness(status="unready", checks={"database": "unchecked"}, circuits={})
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._run())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.refresh()
            except Exception as error:  # the monitor must outlive any one failed round
                logger.error("readiness.refresh_failed", extra={"error": repr(error)})

    async def refresh(self) -> Readiness:
        checks = {"database": await self._database()}
        circuits: dict[str, CircuitState] = {}
        for name, path in self.backends.probes.items():
            checks[name] = await probe(self.backends.clients[name], path)
            circuits[name] = self.backends.clients[name].circuit.state
        if not isinstance(self.limiter.storage, MemoryStorage):
            checks["rate_limits"] = await self._rate_limit_storage()
        if checks["database"] != "ok":
            status: Literal["ready", "degraded", "unready"] = "unready"
        elif all(value == "ok" for value in checks.values()) and all(
            state is CircuitState.CLOSED for state in circuits.values()
        ):
            status = "ready"
        else:
            status = "degraded"
        self.current = Readiness(status=status, checks=checks, circuits=circuits)
        return self.current

    async def _database(self) -> str:
        try:
            async with self.sessionmaker() as session:
                await session.execute(text(DATABASE_PROBE))
        except Exception as error:  # any driver failure means "not ready", never a crash
            return type(error).__name__
        return "ok"

    async def _rate_limit_storage(self) -> str:
        try:
            answer = self.limiter.storage.check()
            healthy = await answer if inspect.isawaitable(answer) else answer
        except Exception as error:
            return type(error).__name__
        return "ok" if healthy else "unreachable"
