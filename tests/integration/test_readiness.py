"""`/readyz`: a backend's probe and its circuit make the gateway degraded, the database unready."""

import asyncio

import httpx
import pytest

from core.db import create_engine, create_sessionmaker
from system_apis.errors import BackendTransientError
from tests.conftest import FAST_RETRIES, GatewayFactory
from tests.support.faults import SwitchableTransport, switchable_backends

CIRCUIT = {"circuit_failure_threshold": 2, "circuit_reset_seconds": 0.2}


async def test_an_open_circuit_is_reported_until_a_probe_closes_it(
    make_gateway: GatewayFactory,
) -> None:
    switches, wrap = switchable_backends()

    gateway = await make_gateway(wrap=wrap, erp={**FAST_RETRIES, **CIRCUIT, "retry_attempts": 1})
    erp = gateway.backends.clients["erp"]
    switches["erp"].down = True
    for _ in range(2):
        with pytest.raises(BackendTransientError):
            await erp.request("GET", "companies", operation="list_companies")

    monitor = gateway.app.state.readiness
    await monitor.refresh()
    readiness = await gateway.client.get("/readyz")
    assert readiness.status_code == 200
    assert readiness.json() == {
        "status": "degraded",
        "checks": {
            "database": "ok",
            "erp": "transient",
            "billing": "ok",
            "crm": "ok",
            "support": "ok",
        },
        "circuits": {"erp": "open", "billing": "closed", "crm": "closed", "support": "closed"},
    }

    switches["erp"].down = False
    await monitor.refresh()
    body = (await gateway.client.get("/readyz")).json()
    assert (body["status"], body["checks"]["erp"], body["circuits"]["erp"]) == (
        "degraded",
        "ok",
        "open",
    )  # the backend answers again, but the breaker's pause is not over

    await asyncio.sleep(0.25)  # half-open now; with no traffic, the probe closes it
    await monitor.refresh()
    assert (await gateway.client.get("/readyz")).json()["circuits"]["erp"] == "closed"
    assert (await gateway.client.get("/readyz")).json()["status"] == "ready"


async def test_readiness_is_probed_in_the_background_not_per_request(
    make_gateway: GatewayFactory,
) -> None:
    switches: dict[str, SwitchableTransport] = {}

    def wrap(name: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        switches[name] = CountingTransport(inner)
        return switches[name]

    gateway = await make_gateway(
        wrap=wrap,
        readiness_probe_seconds=0.05,
        erp={**FAST_RETRIES, **CIRCUIT, "retry_attempts": 1},
    )
    erp = gateway.backends.clients["erp"]
    switches["erp"].down = True
    for _ in range(2):
        with pytest.raises(BackendTransientError):
            await erp.request("GET", "companies", operation="list_companies")
    switches["erp"].down = False
    await asyncio.sleep(0.5)  # past the breaker's pause, several probe rounds
    for transport in switches.values():
        transport.reset()
    answers = [await gateway.anonymous.get("/readyz") for _ in range(50)]
    calls = {name: transport.calls for name, transport in switches.items()}

    assert {a.json()["status"] for a in answers} == {"ready"}  # closed with no traffic
    assert sum(calls.values()) <= 4  # a background round or so, not 4 per request


class CountingTransport(SwitchableTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        super().__init__(inner)
        self.calls = 0

    def reset(self) -> None:
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return await super().handle_async_request(request)


async def test_an_unreachable_redis_shows_in_readiness(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(
        rate_limit_storage_url="redis://127.0.0.1:1/0", rate_limit_failure_mode="open"
    )
    body = (await gateway.anonymous.get("/readyz")).json()
    assert body["status"] == "degraded"
    assert body["checks"]["rate_limits"] != "ok"


async def test_a_database_lost_after_start_makes_the_gateway_unready(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway()
    unreachable = create_engine("postgresql+asyncpg://ledgergate:secret@127.0.0.1:1/ledgergate")
    monitor = gateway.app.state.readiness
    reachable, monitor.sessionmaker = monitor.sessionmaker, create_sessionmaker(unreachable)
    try:
        await monitor.refresh()
        readiness = await gateway.client.get("/readyz")
    finally:
        monitor.sessionmaker = reachable
        await unreachable.dispose()
    assert readiness.status_code == 503
    body = readiness.json()
    assert body["status"] == "unready"
    assert body["checks"]["database"] != "ok"
    assert set(body["circuits"].values()) == {"closed"}
