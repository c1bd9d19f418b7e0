"""Fixtures: the support desk sandbox in process on a fixed clock, and the Desk adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from core.settings import SupportSettings
from sandboxes.support import DeskState, create_app
from system_apis.http import ResilientClient
from system_apis.support.adapters.desk import DeskAdapter, desk_headers

NOW = datetime(2026, 6, 15, 9, 30, tzinfo=UTC)


def desk_client(transport: httpx.AsyncBaseTransport) -> ResilientClient:
    settings = SupportSettings(retry_initial_backoff_seconds=0, retry_max_backoff_seconds=0)
    return ResilientClient(
        backend="support",
        base_url="http://support.sandbox/desk/v2",
        settings=settings,
        headers=desk_headers(settings),
        transport=transport,
    )


@pytest.fixture
def desk_state() -> DeskState:
    return DeskState(clock=lambda: NOW)


@pytest.fixture
async def desk(desk_state: DeskState) -> AsyncIterator[DeskAdapter]:
    client = desk_client(httpx.ASGITransport(app=create_app(desk_state)))
    yield DeskAdapter(client)
    await client.aclose()
