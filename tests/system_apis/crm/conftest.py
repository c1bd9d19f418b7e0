"""Fixtures: the CRM sandbox in process on a fixed day, and the Channel adapter over it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest

from core.settings import CrmSettings
from sandboxes.crm import CrmState, create_app, seeded_state
from system_apis.crm.adapters.channel import ChannelAdapter, channel_headers
from system_apis.http import ResilientClient

TODAY = date(2026, 6, 15)


class Clock:
    def __init__(self, day: date) -> None:
        self.day = day

    def __call__(self) -> date:
        return self.day


def channel_client(transport: httpx.AsyncBaseTransport) -> ResilientClient:
    settings = CrmSettings(retry_initial_backoff_seconds=0, retry_max_backoff_seconds=0)
    return ResilientClient(
        backend="crm",
        base_url="http://crm.sandbox/api/v1",
        settings=settings,
        headers=channel_headers(settings),
        transport=transport,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock(TODAY)


@pytest.fixture
def crm_state(clock: Clock) -> CrmState:
    return seeded_state(today=clock)


@pytest.fixture
async def crm(crm_state: CrmState) -> AsyncIterator[ChannelAdapter]:
    client = channel_client(httpx.ASGITransport(app=create_app(crm_state)))
    yield ChannelAdapter(client)
    await client.aclose()
