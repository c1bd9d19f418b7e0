"""`/readyz`: a backend's probe and its circuit make the gateway degraded, the database unready."""

import asyncio
from dataclasses import replace

import httpx
import pytest

from core.db import create_engine, create_sessionmaker
from system_apis.errors import BackendTransientError
from tests.conftest import FAST_RETRIES, GatewayFactory
from tests.support.faults import SwitchableTransport

CIRCUIT = {"circuit_failure_threshold": 2, "circuit_reset_seconds": 0.2}


async def test_an_open_circuit_is_reported_until_a_probe_closes_it(
    make_gateway: GatewayFactory,
) -> None:
    switches: dict[str, SwitchableTransport] = {}

    def wrap(name: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        switches[name] = SwitchableTransport(inner)
        return switches[name]

    gateway = await make_gateway(wrap=wrap, erp={**FAST_RETRIES, **CIRCUIT, "retry_attempts": 1})
    erp = gateway.backends.clients["erp"]
    switches["erp"].down = True
    for _ in range(2):
        with pytest.raises(BackendTransientError):
            await erp.request("GET", "companies", operation="list_companies")

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
    body = (await gateway.client.get("/readyz")).json()
    assert (body["status"], body["checks"]["erp"], body["circuits"]["erp"]) == (
        "degraded",
        "ok",
        "open",
    )  # the backend answers again, but the breaker has not probed it yet

    await asyncio.sleep(0.25)
    assert (await gateway.client.get("/readyz")).json()["circuits"]["erp"] == "half_open"
    await erp.request("GET", "companies", operation="list_companies")
    assert (await gateway.client.get("/readyz")).json()["status"] == "ready"


async def test_a_database_lost_after_start_makes_the_gateway_unready(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway()
    unreachable = create_engine("postgresql+asyncpg://ledgergate:secret@127.0.0.1:1/ledgergate")
    context = gateway.app.state.process
    gateway.app.state.process = replace(context, sessionmaker=create_sessionmaker(unreachable))
    try:
        readiness = await gateway.client.get("/readyz")
    finally:
        gateway.app.state.process = context
        await unreachable.dispose()
    assert readiness.status_code == 503
    body = readiness.json()
    assert body["status"] == "unready"
    assert body["checks"]["database"] != "ok"
    assert set(body["circuits"].values()) == {"closed"}
