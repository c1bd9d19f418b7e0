"""The workflows record their events with their state changes, once each, even after a
crash or a retry (both databases)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from core.models.base import utcnow
from core.models.event_outbox import EventOutboxRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.worker import replayer
from tests.conftest import Gateway, GatewayFactory
from tests.support.faults import SwitchableTransport
from tests.support.invoices import invoice_body

INVOICE = "com.ledgergate.invoice.{}.v1"


class CrashAfterPosting(httpx.AsyncBaseTransport):
    """An ERP whose first invoice creation (alone, or in the `$batch` that posts it too) is
    taken, then the process 'dies' (the call is cancelled before its answer is recorded),
    like a SIGKILL right after the ERP wrote."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.crashed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        path = request.url.path
        creates = "salesInvoices" in path or path.endswith("/$batch")
        if not self.crashed and request.method == "POST" and creates:
            self.crashed = True
            raise asyncio.CancelledError
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _events(gateway: Gateway, subject: str) -> list[tuple[str, str]]:
    """The recorded events of `subject` (type, id), in recording order."""
    async with gateway.sessionmaker() as session:
        rows = await session.scalars(
            select(EventOutboxRow)
            .where(EventOutboxRow.subject == subject)
            .order_by(EventOutboxRow.sequence)
        )
        return [(row.type, row.event_id) for row in rows]


async def _expire_leases(gateway: Gateway) -> None:
    """Time passes: every running or queued run is due for the worker."""
    async with gateway.sessionmaker.begin() as session:
        await session.execute(
            update(WorkflowRunRow)
            .where(WorkflowRunRow.status.in_((RunStatus.RUNNING, RunStatus.PENDING_RETRY)))
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


async def test_a_posting_replayed_after_a_crash_records_its_events_once(
    make_gateway: GatewayFactory,
) -> None:
    crash: list[CrashAfterPosting] = []

    def wrap(name: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        if name != "erp":
            return inner
        crash.append(CrashAfterPosting(inner))
        return crash[0]

    gateway = await make_gateway(wrap=wrap)
    invoice_id = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()["id"]
    posting = gateway.client.post(
        f"/v1/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": "crash"}
    )
    try:
        await posting
    except asyncio.CancelledError:
        pass
    assert crash[0].crashed
    assert [kind for kind, _ in await _events(gateway, invoice_id)] == [
        INVOICE.format("registered")
    ]

    for _ in range(2):  # the abandoned run resumed, then the worker finds nothing more to do
        await _expire_leases(gateway)
        await replayer(gateway.app.state.process).run_once()

    recorded = await _events(gateway, invoice_id)
    assert [kind for kind, _ in recorded] == [
        INVOICE.format("registered"),
        INVOICE.format("posted"),
    ]
    async with gateway.sessionmaker() as session:
        posted = await session.scalar(
            select(EventOutboxRow.envelope).where(EventOutboxRow.event_id == recorded[1][1])
        )
    assert posted is not None
    assert posted["data"]["status"] == "posted"
    assert posted["data"]["erp_document_number"]
    assert posted["data"]["total"] == invoice_body()["total"]


async def test_a_queued_posting_opens_and_resolves_an_exception(
    make_gateway: GatewayFactory,
) -> None:
    switch: list[SwitchableTransport] = []

    def wrap(name: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        if name != "erp":
            return inner
        switch.append(SwitchableTransport(inner))
        return switch[0]

    gateway = await make_gateway(wrap=wrap)
    invoice_id = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()["id"]
    switch[0].down = True
    queued = await gateway.client.post(
        f"/v1/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": "queued"}
    )
    assert queued.status_code == 202, queued.text
    switch[0].down = False
    await _expire_leases(gateway)
    await replayer(gateway.app.state.process).run_once()

    assert [kind for kind, _ in await _events(gateway, invoice_id)] == [
        INVOICE.format("registered"),
        "com.ledgergate.exception.opened.v1",
        INVOICE.format("posted"),
        "com.ledgergate.exception.resolved.v1",
    ]


async def test_a_refused_posting_records_its_failure(gateway: Gateway) -> None:
    body = invoice_body(invoice_date=utcnow().date().replace(day=1) - timedelta(days=3))
    invoice_id = (await gateway.client.post("/v1/invoices", json=body)).json()["id"]
    refused = await gateway.client.post(
        f"/v1/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": "closed"}
    )
    assert refused.status_code == 422, refused.text
    kinds = [kind for kind, _ in await _events(gateway, invoice_id)]
    assert kinds == [
        INVOICE.format("registered"),
        INVOICE.format("posting_failed"),
        "com.ledgergate.exception.opened.v1",
    ]
