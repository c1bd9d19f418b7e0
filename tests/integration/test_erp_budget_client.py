"""The resilient client takes every attempt from the ERP budget: a 429 shrinks and pauses
the connection, and the retry waits for the `Retry-After` the ERP gave."""

from __future__ import annotations

import time

import httpx
import pytest

from core.settings import ErpLimits, ErpSettings
from system_apis.budget import FULL_SCALE, RECOVERY_STEP, ErpBudget, ErpBudgetExhausted
from system_apis.errors import BackendTransientError
from system_apis.http import ResilientClient, probe
from tests.support.budget_stores import database_store


async def test_a_429_pauses_the_budget_and_the_retry_comes_after_retry_after(
    database_url: str,
) -> None:
    sent: list[float] = []

    def answer(_request: httpx.Request) -> httpx.Response:
        sent.append(time.monotonic())
        if len(sent) == 1:
            return httpx.Response(429, headers={"Retry-After": "1"})
        return httpx.Response(200, json={})

    async with database_store(database_url) as store:
        limits = ErpLimits(requests_per_window=100, window_seconds=60, max_concurrent_requests=2)
        budget = ErpBudget("erp-client", limits, store, wait_seconds=5, lease_seconds=30)
        client = ResilientClient(
            backend="erp-client",
            base_url="http://erp.test",
            settings=ErpSettings(retry_initial_backoff_seconds=0, retry_max_backoff_seconds=0),
            transport=httpx.MockTransport(answer),
            budget=budget,
        )
        try:
            response = await client.request("GET", "/companies", operation="list_companies")
        finally:
            await client.aclose()
    assert response.status_code == 200
    assert len(sent) == 2
    assert sent[1] - sent[0] >= 0.95
    assert budget.scale == FULL_SCALE // 2 + RECOVERY_STEP


async def test_a_readiness_probe_counts_in_the_budget_and_never_waits_behind_a_pause(
    database_url: str,
) -> None:
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(200, json={})

    async with database_store(database_url) as store:
        limits = ErpLimits(requests_per_window=1, window_seconds=60, max_concurrent_requests=1)
        budget = ErpBudget("erp-probe", limits, store, wait_seconds=5, lease_seconds=30)
        client = ResilientClient(
            backend="erp-probe",
            base_url="http://erp.test",
            settings=ErpSettings(),
            transport=httpx.MockTransport(answer),
            budget=budget,
        )
        try:
            assert await probe(client, "/companies") == "ok"
            started = time.monotonic()
            assert await probe(client, "/companies") == "ok"  # the window is full: not sent
            assert time.monotonic() - started < 1.0
        finally:
            await client.aclose()
    assert sent == ["/companies"]


async def test_no_request_is_sent_once_too_little_of_the_time_budget_is_left(
    database_url: str,
) -> None:
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(429, headers={"Retry-After": "3"})

    async with database_store(database_url) as store:
        limits = ErpLimits(requests_per_window=100, window_seconds=60, max_concurrent_requests=2)
        budget = ErpBudget("erp-late", limits, store, wait_seconds=30, lease_seconds=30)
        client = ResilientClient(
            backend="erp-late",
            base_url="http://erp.test",
            settings=ErpSettings(retry_budget_seconds=4.0),
            transport=httpx.MockTransport(answer),
            budget=budget,
        )
        try:
            with pytest.raises(BackendTransientError):
                await client.request("POST", "/salesInvoices", operation="create")
            started = time.monotonic()
            with pytest.raises(ErpBudgetExhausted):
                await client.request("POST", "/salesInvoices", operation="create")
            assert time.monotonic() - started < 0.5  # 3 s of pause would leave under 2 s
        finally:
            await client.aclose()
    assert sent == ["/salesInvoices"]
