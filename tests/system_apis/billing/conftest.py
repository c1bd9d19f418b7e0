"""Fixtures: the Stripe sandbox in process, a recording transport over it, and the adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from sandboxes.stripe import StripeState, create_app
from system_apis.billing.adapters.stripe import StripeAdapter
from tests.support.recording import RecordingTransport
from tests.support.stripe_sandbox import sandbox_http, stripe_client


@pytest.fixture
def stripe_state() -> StripeState:
    return StripeState()


@pytest.fixture
def recording(stripe_state: StripeState) -> RecordingTransport:
    return RecordingTransport(httpx.ASGITransport(app=create_app(stripe_state)))


@pytest.fixture
async def adapter(recording: RecordingTransport) -> AsyncIterator[StripeAdapter]:
    client = stripe_client(recording)
    yield StripeAdapter(client)
    await client.aclose()


@pytest.fixture
async def http(stripe_state: StripeState) -> AsyncIterator[httpx.AsyncClient]:
    """Straight to the sandbox, unrecorded: for seeding data and wire-level checks."""
    async with sandbox_http(httpx.ASGITransport(app=create_app(stripe_state))) as client:
        yield client
