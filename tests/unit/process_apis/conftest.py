"""The process tier on an in-memory database and port fakes: no HTTP, no sandboxes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.models.base import utcnow
from tests.support.fakes.estate import Estate, UnitDatabase, seed


@pytest.fixture(scope="session")
async def unit_database() -> AsyncIterator[UnitDatabase]:
    database = UnitDatabase()
    await database.open()
    yield database
    await database.close()


@pytest.fixture
async def estate(unit_database: UnitDatabase) -> Estate:
    return await seed(unit_database, utcnow().date())
