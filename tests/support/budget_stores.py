"""The ERP budget's database store over a test database, and a store that counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from core.db import create_engine, create_sessionmaker
from system_apis.budget import Acquire, Admission, BudgetStore, Released
from system_apis.budget_database import DatabaseBudgetStore


@asynccontextmanager
async def database_store(database_url: str) -> AsyncIterator[DatabaseBudgetStore]:
    engine = create_engine(database_url)
    store = DatabaseBudgetStore()
    store.bind(create_sessionmaker(engine))
    try:
        yield store
    finally:
        await engine.dispose()


class CountingStore:
    """A `BudgetStore` over another that counts the round trips made to it, by kind."""

    def __init__(self, inner: BudgetStore) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    async def acquire(self, key: str, request: Acquire) -> Admission:
        self.calls["acquire"] += 1
        return await self.inner.acquire(key, request)

    async def release(self, key: str, released: Sequence[Released]) -> None:
        self.calls["release"] += 1
        await self.inner.release(key, released)

    async def throttled(self, key: str, *, now_ms: int, pause_ms: int) -> int:
        self.calls["throttled"] += 1
        return await self.inner.throttled(key, now_ms=now_ms, pause_ms=pause_ms)

    async def recovered(self, key: str) -> int:
        self.calls["recovered"] += 1
        return await self.inner.recovered(key)
