"""Run leases: a run being executed is never taken over, however slow its backend."""

import asyncio
import time
from datetime import timedelta

import httpx
from sqlalchemy import select

from core.models.workflow_run import WorkflowStepRow
from process_apis.worker import replayer
from tests.conftest import GatewayFactory
from tests.support.invoices import invoice_body

LEASE = timedelta(seconds=1)
ERP_LATENCY = 0.3  # per request; a posting makes several, each step two at most


class SlowTransport(httpx.AsyncBaseTransport):
    """An ERP that answers every request after `ERP_LATENCY` seconds."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(ERP_LATENCY)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_slow_run_is_never_executed_twice(make_gateway: GatewayFactory) -> None:
    def wrap(name: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        return SlowTransport(inner) if name == "erp" else inner

    gateway = await make_gateway(wrap=wrap, run_lease=LEASE)
    invoice_id = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()["id"]
    second_worker = replayer(gateway.app.state.process)
    started = time.monotonic()
    posting = asyncio.create_task(
        gateway.client.post(
            f"/v1/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": "slow"}
        )
    )
    claimed = 0
    while not posting.done():  # another worker polls the queue all along
        claimed += (await second_worker.run_once()).claimed
        await asyncio.sleep(0.05)
    response = await posting
    assert response.status_code == 201, response.text
    # the run outlived its lease (each step is shorter: its start renews the lease); the
    # posting's requests take about 1.4 s, so half a lease more is not to be counted on
    assert time.monotonic() - started > LEASE.total_seconds()
    assert claimed == 0
    async with gateway.sessionmaker() as session:
        attempts = (
            await session.scalars(
                select(WorkflowStepRow.attempts).where(
                    WorkflowStepRow.run_id == response.json()["run_id"]
                )
            )
        ).all()
    assert attempts
    assert set(attempts) == {1}
