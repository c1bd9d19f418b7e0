"""Admission control: past `max_in_flight` requests, a worker refuses at once with a 503.

A posting is held inside the ERP transport until the test lets it go, so "one request
in flight" is a fact, not a matter of timing.
"""

import asyncio

import httpx

from tests.conftest import GatewayFactory
from tests.support.invoices import invoice_body


class HeldTransport(httpx.AsyncBaseTransport):
    """Holds every POST until `release` is set; `entered` tells that one is held."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.entered.set()
            await self.release.wait()
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_worker_at_its_limit_sheds_requests_but_not_probes(
    make_gateway: GatewayFactory,
) -> None:
    held: dict[str, HeldTransport] = {}

    def wrap(name: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        held[name] = HeldTransport(inner)
        return held[name]

    gateway = await make_gateway(wrap=wrap, max_in_flight=1, rate_limits={"enabled": False})
    invoice_id = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()["id"]
    erp = held["erp"]

    posting = asyncio.create_task(
        gateway.client.post(
            f"/v1/invoices/{invoice_id}/postings",
            json={},
            headers={"Idempotency-Key": f"admission-{invoice_id}"},
        )
    )
    await erp.entered.wait()  # the posting is in flight, waiting on the ERP
    shed = await gateway.client.get(f"/v1/invoices/{invoice_id}")
    probes = [await gateway.anonymous.get(path) for path in ("/healthz", "/readyz", "/metrics")]
    erp.release.set()
    posted = await posting
    served = await gateway.client.get(f"/v1/invoices/{invoice_id}")

    assert shed.status_code == 503
    assert shed.headers["content-type"] == "application/problem+json"
    assert shed.headers["retry-after"] == "1"
    assert shed.headers["x-correlation-id"] == shed.json()["correlation_id"]
    assert shed.json()["type"] == "https://ledgergate.dev/problems/overloaded"
    assert [p.status_code for p in probes] == [200, 200, 200]
    assert 'ledgergate_requests_shed_total{reason="in_flight"}' in probes[2].text
    assert posted.status_code == 201, posted.text
    assert served.status_code == 200  # the slot is free again
    assert served.json()["status"] == "posted"


async def test_a_failed_request_frees_its_slot(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(max_in_flight=1)
    for _ in range(3):
        missing = await gateway.client.get("/v1/invoices/inv_00000000000000000000000009")
        assert missing.status_code == 404
    assert (await gateway.client.post("/v1/invoices", json=invoice_body())).status_code == 201
