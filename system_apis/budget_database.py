"""The ERP budget's shared state in the database, when no Redis is configured.

An acquire is one short transaction: it locks the connection's state row (an UPDATE,
which serializes acquires on PostgreSQL and SQLite alike), ends the grants the process
released since its last transaction (re-stamped with their answer's time), reads the
window's use and the requests in flight in one aggregate, drops grants that no longer
count, and records the new grant. It is never held across an ERP request.

A grant counts in the window from the latest moment its request can have reached the
ERP: the end of its lease (`held_until_ms`) while it is in flight, its answer's time
(`granted_at_ms`, re-stamped at release) once it is released; it counts until a window
after that.

A process opens one of these transactions at a time: they would queue on the state
row (or on SQLite's file lock) anyway, and SQLite's WAL mode fails a write whose
snapshot went stale while it waited for the lock rather than waiting again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from sqlalchemy import and_, case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.models.erp_budget import ErpBudgetGrantRow as Grant
from core.models.erp_budget import ErpBudgetStateRow as State
from system_apis.budget import (
    MIN_SCALE,
    RECOVERY_STEP,
    Acquire,
    Admission,
    BudgetStoreUnavailable,
    Released,
    now_ms,
    scaled,
)
from system_apis.priority import FULL_SCALE


class BudgetStoreUnbound(RuntimeError):
    """The composition root did not give the store its database."""


class DatabaseBudgetStore:
    """`BudgetStore` in the gateway's database; bound to it once the runtime has one."""

    def __init__(self) -> None:
        self._sessionmaker: async_sessionmaker[AsyncSession] | None = None
        self._known: set[str] = set()
        self._one_at_a_time = asyncio.Lock()

    def bind(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        if self._sessionmaker is None:
            raise BudgetStoreUnbound("the ERP budget's database store is not bound")
        try:
            async with self._one_at_a_time, self._sessionmaker() as session, session.begin():
                yield session
        except (DBAPIError, OSError) as error:
            raise BudgetStoreUnavailable(f"the database: {error}") from error

    async def _ensure_state(self, key: str) -> None:
        """Create the connection's state row once (another process may race us to it)."""
        if key in self._known:
            return
        async with self._transaction() as session:
            dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
            await session.execute(
                dialect.insert(State)
                .values(connection=key, scale=FULL_SCALE, paused_until_ms=0)
                .on_conflict_do_nothing(index_elements=[State.connection])
            )
        self._known.add(key)

    async def acquire(self, key: str, request: Acquire) -> Admission:
        await self._ensure_state(key)
        async with self._transaction() as session:
            scale, paused_until = (
                await session.execute(
                    update(State)
                    .where(State.connection == key)
                    .values(scale=State.scale)
                    .returning(State.scale, State.paused_until_ms)
                )
            ).one()
            if request.released:
                await self._end_grants(session, key, request.released)
            # Stamped once the lock is ours: waiting for it must not age the grant.
            now = max(request.now_ms, now_ms())
            if paused_until > now:
                return Admission(granted=False, wait_ms=paused_until - now, scale=scale)
            window_start = now - request.window_ms
            counted_at = func.coalesce(Grant.held_until_ms, Grant.granted_at_ms)
            in_window = counted_at > window_start
            since_pause = and_(in_window, counted_at >= paused_until)
            used, used_since_pause, in_flight, oldest, oldest_since_pause = (
                await session.execute(
                    select(
                        func.coalesce(func.sum(case((in_window, Grant.cost), else_=0)), 0),
                        func.coalesce(func.sum(case((since_pause, Grant.cost), else_=0)), 0),
                        func.count(case((Grant.held_until_ms > now, 1))),
                        func.min(case((in_window, counted_at))),
                        func.min(case((since_pause, counted_at))),
                    ).where(Grant.connection == key)
                )
            ).one()
            if in_flight >= scaled(request.concurrency, scale, request.share):
                return Admission(granted=False, wait_ms=0, scale=scale)
            limit = request.window_limit
            if limit is not None:
                # The scaled limit counts from the last pause's end; the configured one
                # holds over the whole window.
                for counted, first, allowed in (
                    (used_since_pause, oldest_since_pause, scaled(limit, scale, request.share)),
                    (used, oldest, scaled(limit, FULL_SCALE, request.share)),
                ):
                    if counted + request.cost > allowed:
                        # One still in flight leaves a window after its answer: now, at the soonest.
                        frees_at = min(first if first is not None else now, now) + request.window_ms
                        return Admission(granted=False, wait_ms=max(1, frees_at - now), scale=scale)
            await session.execute(
                delete(Grant).where(Grant.connection == key, counted_at <= window_start)
            )
            session.add(
                Grant(
                    token=request.token,
                    connection=key,
                    granted_at_ms=now,
                    cost=request.cost,
                    held_until_ms=now + request.lease_ms,
                )
            )
        return Admission(granted=True, wait_ms=0, scale=scale)

    async def release(self, key: str, released: Sequence[Released]) -> None:
        async with self._transaction() as session:
            await self._end_grants(session, key, released)

    @staticmethod
    async def _end_grants(session: AsyncSession, key: str, released: Sequence[Released]) -> None:
        """The requests are over: no longer in flight, their grants count in the window from
        their answers (one statement for all of them)."""
        answered = {one.token: one.at_ms for one in released}
        await session.execute(
            update(Grant)
            .where(and_(Grant.connection == key, Grant.token.in_(answered)))
            .values(
                held_until_ms=None,
                granted_at_ms=case(answered, value=Grant.token, else_=Grant.granted_at_ms),
            )
        )

    async def throttled(self, key: str, *, now_ms: int, pause_ms: int) -> int:
        pause_until = now_ms + pause_ms
        halved = State.scale // 2
        return await self._update_scale(
            key,
            scale=case((halved < MIN_SCALE, MIN_SCALE), else_=halved),
            paused_until_ms=case(
                (State.paused_until_ms > pause_until, State.paused_until_ms), else_=pause_until
            ),
        )

    async def recovered(self, key: str) -> int:
        grown = State.scale + RECOVERY_STEP
        return await self._update_scale(
            key, scale=case((grown > FULL_SCALE, FULL_SCALE), else_=grown)
        )

    async def _update_scale(self, key: str, **values: object) -> int:
        async with self._transaction() as session:
            scale: int = (
                await session.execute(
                    update(State)
                    .where(State.connection == key)
                    .values(**values)
                    .returning(State.scale)
                )
            ).scalar_one()
        return scale
