"""The ERP budget's database store over a test database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from core.db import create_engine, create_sessionmaker
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
