"""The ERP sandboxes enforce their vendor's limits: 429 with `Retry-After` and the vendor's
error body past the window or the concurrency, counters of what was served and refused."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.settings import VENDOR_LIMITS
from sandboxes import business_central, netsuite
from sandboxes.limits import (
    LIMITS_ENV,
    LIMITS_PATH,
    LimitConfig,
    LimitsMiddleware,
    VendorLimiter,
    config_from_env,
)

BC_COMPANIES = "/v2.0/sandbox/api/v1.0/companies"
NS_CURRENCIES = "/services/rest/record/v1/currency"
AUTH = {"Authorization": "Bearer sandbox-token"}


@pytest.fixture
async def bc() -> AsyncIterator[httpx.AsyncClient]:
    app = business_central.create_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://erp.test", headers=AUTH
    ) as client:
        yield client


async def configure(client: httpx.AsyncClient, **config: object) -> None:
    response = await client.post(LIMITS_PATH, json=config)
    assert response.status_code == 200, response.text


async def test_business_central_answers_429_past_its_window(bc: httpx.AsyncClient) -> None:
    await configure(bc, requests_per_window=2, window_seconds=30, max_concurrent_requests=5)
    statuses = [(await bc.get(BC_COMPANIES)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    refused = await bc.get(BC_COMPANIES)
    assert refused.json()["error"]["code"] == "Application_TooManyRequests"
    assert 29 <= int(refused.headers["Retry-After"]) <= 30
    report = (await bc.get(LIMITS_PATH)).json()
    assert report["served"] == 2
    assert report["refused"] == {"window": 2, "concurrency": 0}
    assert report["peak_in_window"] == 2


async def test_the_window_slides(bc: httpx.AsyncClient) -> None:
    await configure(bc, requests_per_window=1, window_seconds=0.2, max_concurrent_requests=5)
    assert (await bc.get(BC_COMPANIES)).status_code == 200
    assert (await bc.get(BC_COMPANIES)).status_code == 429
    await asyncio.sleep(0.25)
    assert (await bc.get(BC_COMPANIES)).status_code == 200


async def test_netsuite_answers_429_past_its_concurrency() -> None:
    app = netsuite.create_app()
    limiter = app.state.limits
    limiter.configure(LimitConfig(max_concurrent_requests=1))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ns.test", headers=AUTH
    ) as client:
        limiter.in_flight = 1  # another request holds the account's only slot
        refused = await client.get(NS_CURRENCIES)
        limiter.in_flight = 0
        served = await client.get(NS_CURRENCIES)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    details = refused.json()["o:errorDetails"]
    assert details[0]["o:errorCode"] == "SSS_REQUEST_LIMIT_EXCEEDED"
    assert served.status_code == 200
    assert limiter.report()["refused"] == {"window": 0, "concurrency": 1}
    assert limiter.in_flight == 0  # the served request gave its slot back


async def test_requests_past_the_concurrency_are_refused_while_others_are_in_flight() -> None:
    async def slow(_request: Request) -> Response:
        await asyncio.sleep(0.05)
        return JSONResponse({})

    limiter = VendorLimiter("business_central", LimitConfig(max_concurrent_requests=2))
    app = LimitsMiddleware(Starlette(routes=[Route("/slow", slow)]), limiter)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://erp.test"
    ) as client:
        responses = await asyncio.gather(*(client.get("/slow") for _ in range(6)))
    assert sorted(r.status_code for r in responses) == [200, 200, 429, 429, 429, 429]
    assert limiter.report()["peak_concurrent"] == 2
    assert limiter.report()["refused"] == {"window": 0, "concurrency": 4}
    assert limiter.in_flight == 0


async def test_delete_goes_back_to_the_vendors_defaults(bc: httpx.AsyncClient) -> None:
    await configure(bc, requests_per_window=1, window_seconds=60, max_concurrent_requests=1)
    report = (await bc.delete(LIMITS_PATH)).json()
    bc_defaults = VENDOR_LIMITS["business_central"]
    assert report["config"] == {
        "requests_per_window": 6000,
        "window_seconds": 300.0,
        "max_concurrent_requests": 5,
        "batch_counted_as": "request",
    }
    assert bc_defaults.operations_per_batch == 100
    assert (await bc.post(LIMITS_PATH, json={"max_concurrent_requests": 0})).status_code == 422


def test_the_environment_overrides_the_vendors_defaults() -> None:
    environ = {f"{LIMITS_ENV}_ERP": json.dumps({"requests_per_window": 10})}
    assert config_from_env("business_central", "erp", environ) == LimitConfig(
        requests_per_window=10, window_seconds=300.0, max_concurrent_requests=5
    )
    assert config_from_env("netsuite", "erp", {}) == LimitConfig(
        requests_per_window=None, window_seconds=60.0, max_concurrent_requests=5
    )
