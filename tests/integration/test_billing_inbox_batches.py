"""Invoices that billing webhooks register, and the worker's queued retries of postings,
reach Business Central as bulk work: several documents in one `$batch` request, each
invoice with its own run and outcome, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.billing_inbox import BillingInbox
from process_apis.invoices.workflow import WORKFLOW
from process_apis.worker import replayer
from sandboxes.faults import FaultConfig
from tests.conftest import Gateway, GatewayFactory
from tests.integration.test_billing_inbox_customers import acme_billing_ref, deliver
from tests.integration.test_posting_batches import drain, make_all_due
from tests.integration.test_subscriptions import ordered
from tests.support.invoices import US_COMPANY, invoice_body

BATCH_PATH_END = "/$batch"


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts the ERP's `$batch` requests and its single sales-invoice creates."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.batches = 0
        self.single_creates = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(BATCH_PATH_END):
            self.batches += 1
        elif request.method == "POST" and request.url.path.endswith("/salesInvoices"):
            self.single_creates += 1
        return await self.inner.handle_async_request(request)


async def counted_gateway(make_gateway: GatewayFactory) -> tuple[Gateway, CountingTransport]:
    """A gateway whose ERP requests are counted, with Acme's subscription ordered and Acme
    already in the ERP (one invoice posted), so each posting below needs only its document."""
    counters: dict[str, CountingTransport] = {}

    def wrap(name: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        counters[name] = CountingTransport(inner)
        return counters[name]

    gateway = await make_gateway(wrap=wrap)
    await ordered(gateway)
    created = await gateway.client.post("/v1/invoices", json=invoice_body())
    posted = await gateway.client.post(
        f"/v1/invoices/{created.json()['id']}/postings", json={}, headers={"Idempotency-Key": "p"}
    )
    assert posted.status_code == 201, posted.text
    counter = counters["erp"]
    counter.batches = counter.single_creates = 0
    return gateway, counter


async def billed(gateway: Gateway, count: int) -> list[str]:
    """`count` finalized billing invoices of Acme's subscription in the inbox, drained: the
    gateway invoices they registered."""
    customer = await acme_billing_ref(gateway)
    for n in range(count):
        await deliver(gateway, billing_invoice=f"in_batch_{n}", customer=customer)
    report = await BillingInbox(gateway.app.state.process).drain()
    assert len(report.invoices) == count
    return report.invoices


async def statuses(gateway: Gateway, invoice_ids: list[str]) -> dict[str, str]:
    return {
        invoice_id: (await gateway.client.get(f"/v1/invoices/{invoice_id}")).json()["status"]
        for invoice_id in invoice_ids
    }


async def queued_runs(gateway: Gateway) -> set[str]:
    """The invoices whose posting run waits in the exception queue for a retry."""
    async with gateway.sessionmaker() as session:
        rows = await session.scalars(
            select(WorkflowRunRow.subject_id).where(
                WorkflowRunRow.workflow == WORKFLOW,
                WorkflowRunRow.status == RunStatus.PENDING_RETRY,
            )
        )
        return set(rows)


async def test_webhook_invoices_are_posted_in_one_batch_request(
    make_gateway: GatewayFactory,
) -> None:
    gateway, erp = await counted_gateway(make_gateway)

    invoice_ids = await billed(gateway, 6)

    assert (erp.batches, erp.single_creates) == (1, 0)
    assert set((await statuses(gateway, invoice_ids)).values()) == {"posted"}
    books = gateway.backends.erp_sandbox
    assert books is not None
    assert [books.document_count(US_COMPANY, i) for i in invoice_ids] == [1] * 6
    async with gateway.sessionmaker() as session:
        runs = await session.scalars(
            select(WorkflowRunRow.subject_id).where(
                WorkflowRunRow.workflow == WORKFLOW,
                WorkflowRunRow.subject_id.in_(invoice_ids),
                WorkflowRunRow.status == RunStatus.SUCCEEDED,
            )
        )
        assert sorted(runs) == sorted(invoice_ids)  # each invoice its own run


async def test_a_partly_failing_webhook_batch_queues_exactly_its_failed_invoices(
    make_gateway: GatewayFactory,
) -> None:
    gateway, _ = await counted_gateway(make_gateway)
    faults = gateway.backends.faults["erp"]
    faults.configure(FaultConfig(error_rate=0.15, seed=5))

    invoice_ids = await billed(gateway, 20)

    faults.configure(FaultConfig())
    by_status = await statuses(gateway, invoice_ids)
    failed = {invoice_id for invoice_id, status in by_status.items() if status != "posted"}
    assert failed, "the faults hit no posting"
    assert failed != set(invoice_ids), "the faults hit every posting"
    assert await queued_runs(gateway) == failed
    books = gateway.backends.erp_sandbox
    assert books is not None
    posted = {i.external_document_number for i in books.posted_invoices(US_COMPANY)}
    assert set(invoice_ids) - failed <= posted  # a failure may hit a post's answer only

    await drain(gateway, replayer(gateway.app.state.process))

    assert set((await statuses(gateway, invoice_ids)).values()) == {"posted"}
    assert [books.document_count(US_COMPANY, i) for i in invoice_ids] == [1] * 20


async def test_queued_retries_are_posted_together_and_never_twice(
    make_gateway: GatewayFactory,
) -> None:
    """The ERP handled the webhook invoices' `$batch` but its answer was lost, and the ERP
    was down for the next ones: the retries find the first documents by their external
    number and send only the others, together."""
    gateway, erp = await counted_gateway(make_gateway)
    faults = gateway.backends.faults["erp"]
    books = gateway.backends.erp_sandbox
    assert books is not None
    faults.configure(FaultConfig(drop_rate=1.0))  # handled, answer lost
    handled = await billed(gateway, 3)
    faults.configure(FaultConfig(error_rate=1.0))  # not handled
    customer = await acme_billing_ref(gateway)
    for n in range(4):
        await deliver(gateway, billing_invoice=f"in_down_{n}", customer=customer)
    unhandled = (await BillingInbox(gateway.app.state.process).drain()).invoices
    faults.configure(FaultConfig())
    assert await queued_runs(gateway) == set(handled + unhandled)
    assert [books.document_count(US_COMPANY, i) for i in handled] == [1] * 3
    assert [books.document_count(US_COMPANY, i) for i in unhandled] == [0] * 4
    erp.batches = erp.single_creates = 0

    await make_all_due(gateway)
    report = await replayer(gateway.app.state.process).run_once()

    assert report.claimed == 7
    assert report.outcomes == {RunStatus.SUCCEEDED.value: 7}
    # the four documents the ERP lacks go in bulk, not one request each: in one `$batch`,
    # or two when the retry that upserts the customer again (it goes ahead of the
    # customer's others) is one of them
    assert erp.batches in (1, 2)
    assert erp.single_creates == 0
    assert [books.document_count(US_COMPANY, i) for i in handled + unhandled] == [1] * 7
    assert sum(books.repeated_creates.values()) == 0  # looked up, never sent again
    assert set((await statuses(gateway, handled + unhandled)).values()) == {"posted"}
