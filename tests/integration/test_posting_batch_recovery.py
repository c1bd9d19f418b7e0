"""A process that dies in the middle of a streaming posting batch: the batch is never
`completed` while an item lacks its outcome, and recovery posts every item exactly once.

The process dies during a bulk request to the ERP: the ERP handles that request (its
documents exist there, posted by Business Central's `$batch`, left pending approval by
NetSuite) but the answer never comes back, nothing further reaches the ERP, and the
process writes nothing more (its task is cancelled). Time then passes in two steps, as
the leases were set: first the batch's lease runs out (it was claimed before its items'
runs were taken), then its runs' leases; the background work takes over at each.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from core.models.base import utcnow
from core.models.posting_batch import PostingBatchRow
from core.models.workflow_run import WorkflowRunRow
from process_apis.worker import BackgroundWork
from process_apis.workflows import replayer
from tests.conftest import Gateway, GatewayFactory
from tests.integration.test_posting_batches import post_batch, register
from tests.support.erps import ErpCase, on_erp

INVOICES = 40
DIES_DURING = 2  # the bulk request (BC's `$batch`, a NetSuite invoice) the process dies in
INVOICE_ID = re.compile(rb"inv_[0-9A-Za-z]{26}")


class DyingProcess(httpx.AsyncBaseTransport):
    """The ERP as the batch's process reaches it once `armed`, until the process dies;
    afterwards (a new process) as it is. The gateway's own loops (readiness probes)
    started before and stand for other processes. Counts the documents each invoice was
    sent in."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.armed = False
        self.dead = False
        self.died = asyncio.Event()
        self.bulk_requests = 0
        self.sent: Counter[str] = Counter()
        self.others: set[asyncio.Task[Any]] = set()

    def arm(self) -> None:
        """The batch's process starts: the tasks from now on are its."""
        self.others = asyncio.all_tasks()
        self.armed = True

    async def kill(self) -> None:
        """The process ends: each task it started is cancelled once (a second cancel would
        cut its cleanup short), and what their cleanup starts (closing their database
        connections) may finish; a task still stuck after that is cancelled too. None goes
        on or retries a lost request."""
        cancelled: set[asyncio.Task[Any]] = set()
        stuck = True
        while mine := {task for task in self._mine() if not task.done()}:
            if stuck:
                for task in mine - cancelled:
                    task.cancel()
                cancelled |= mine
            done, _ = await asyncio.wait(mine, timeout=5, return_when=asyncio.FIRST_COMPLETED)
            stuck = not done
        self.armed = self.dead = False  # another process takes over: the ERP answers it

    def _mine(self) -> set[asyncio.Task[Any]]:
        return asyncio.all_tasks() - self.others - {asyncio.current_task()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.armed or asyncio.current_task() in self.others:
            return await self._forward(request)
        if self.dead:
            await asyncio.Event().wait()  # a dead process sends nothing more
        carries = _carries_documents(request)
        self.bulk_requests += carries
        response = await self._forward(request)
        if carries and self.bulk_requests == DIES_DURING:
            self.dead = True
            self.died.set()
        if self.dead:
            await asyncio.Event().wait()  # handled by the ERP, its answer never read
        return response

    async def _forward(self, request: httpx.Request) -> httpx.Response:
        if _carries_documents(request):
            self.sent.update(i.decode() for i in set(INVOICE_ID.findall(request.content)))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _carries_documents(request: httpx.Request) -> bool:
    """A request that creates sales invoices: BC's `$batch`, NetSuite's invoice POST."""
    path = request.url.path
    return request.method == "POST" and (path.endswith("/$batch") or path.endswith("/invoice"))


async def crashed_batch(erp_case: ErpCase, dying: DyingProcess, ids: list[str]) -> str:
    """Post the batch and let its process die; the batch's id."""
    gateway = erp_case.gateway
    dying.arm()
    asyncio.create_task(post_batch(gateway, {"invoice_ids": ids}, "crash-1"))  # noqa: RUF006
    await asyncio.wait_for(dying.died.wait(), timeout=30)
    await settled(gateway)  # what the process had finished is written, the rest hangs
    await dying.kill()
    async with gateway.sessionmaker() as session:
        batch_id: str | None = await session.scalar(select(PostingBatchRow.id))
    assert batch_id is not None
    return batch_id


async def settled(gateway: Gateway) -> None:
    """Wait until the runs' rows stop changing: every run left waits on the dead ERP."""
    last = None
    for _ in range(100):
        async with gateway.sessionmaker() as session:
            now = (
                await session.execute(
                    select(
                        func.count(),
                        func.max(WorkflowRunRow.updated_at),
                        func.sum(WorkflowRunRow.attempts),
                    )
                )
            ).one()
        if now == last:
            return
        last = now
        await asyncio.sleep(0.1)
    raise AssertionError("the dead process's runs kept changing")


async def leases_pass(gateway: Gateway, *, until: datetime) -> None:
    """Time passes: every lease (a batch's, a run's) and backoff ending by `until` is over."""
    past = utcnow() - timedelta(seconds=1)
    async with gateway.sessionmaker.begin() as session:
        await session.execute(
            update(PostingBatchRow)
            .where(PostingBatchRow.lease_until <= until)
            .values(lease_until=past)
        )
        await session.execute(
            update(WorkflowRunRow)
            .where(WorkflowRunRow.next_attempt_at <= until)
            .values(next_attempt_at=past)
        )


async def batch_lease(gateway: Gateway, batch_id: str) -> datetime:
    async with gateway.sessionmaker() as session:
        lease = await session.scalar(
            select(PostingBatchRow.lease_until).where(PostingBatchRow.id == batch_id)
        )
    assert lease is not None
    return lease


async def read(gateway: Gateway, batch_id: str) -> dict[str, Any]:
    answer = await gateway.client.get(f"/v1/posting-batches/{batch_id}")
    assert answer.status_code == 200, answer.text
    batch: dict[str, Any] = answer.json()
    return batch


async def invoice_status(gateway: Gateway, invoice_id: str) -> str:
    status: str = (await gateway.client.get(f"/v1/invoices/{invoice_id}")).json()["status"]
    return status


async def assert_truthful(erp_case: ErpCase, batch: dict[str, Any]) -> None:
    """Every item says what became of its invoice: `posted` ones are posted, once, in the
    gateway and the ERP, by the run the item names; `pending` ones are not posted yet."""
    gateway = erp_case.gateway
    assert batch["counts"] == {
        **dict.fromkeys(("pending", "posted", "already_posted", "queued", "failed", "refused"), 0),
        **Counter(item["outcome"] for item in batch["items"]),
    }
    for item in batch["items"]:
        status = await invoice_status(gateway, item["invoice_id"])
        if item["outcome"] == "posted":
            assert status == "posted"
            assert erp_case.invoice_count(item["invoice_id"]) == 1
            run = (await gateway.client.get(item["run_url"])).json()
            assert run["status"] == "succeeded"
        else:
            assert item["outcome"] == "pending", item
            assert status in ("open", "posting")


async def worker_pass(gateway: Gateway) -> None:
    work = BackgroundWork(gateway.app.state.process)
    try:
        await work.run_once()
    finally:
        await work.aclose()


async def dying_gateway(
    make_gateway: GatewayFactory, erp_kind: str
) -> tuple[ErpCase, DyingProcess]:
    """A gateway on the ERP of `erp_kind`, reaching it through a process that may die."""
    dying: dict[str, DyingProcess] = {}

    def wrap(name: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        if not name.startswith("erp"):
            return inner
        dying[name] = DyingProcess(inner)
        return dying[name]

    erp_case = await on_erp(make_gateway, erp_kind, wrap=wrap)
    return erp_case, dying[erp_case.backend]


async def assert_finished_once(
    erp_case: ErpCase, erp: DyingProcess, batch: dict[str, Any], ids: list[str]
) -> None:
    """The batch is completed, every invoice posted by it once, each document sent once."""
    gateway = erp_case.gateway
    assert batch["status"] == "completed"
    assert batch["finished_at"] is not None
    await assert_truthful(erp_case, batch)
    assert batch["counts"]["posted"] == len(ids)
    assert sorted(erp_case.posted_invoices()) == sorted(ids)
    assert [erp_case.invoice_count(invoice_id) for invoice_id in ids] == [1] * len(ids)
    assert set(erp.sent) == set(ids)
    assert max(erp.sent.values()) == 1  # looked up by external number, never sent again
    async with gateway.sessionmaker() as session:
        runs = Counter(await session.scalars(select(WorkflowRunRow.subject_id)))
    assert all(runs[invoice_id] == 1 for invoice_id in ids)  # each invoice its own run
    exceptions = await (await gateway.client_with({"ops:read"})).get("/ops/v1/exceptions")
    assert exceptions.json()["items"] == []


async def test_a_batch_whose_process_died_mid_request_is_finished_exactly_once(
    make_gateway: GatewayFactory, erp_kind: str
) -> None:
    erp_case, erp = await dying_gateway(make_gateway, erp_kind)
    gateway = erp_case.gateway
    ids = await register(gateway, INVOICES)
    batch_id = await crashed_batch(erp_case, erp, ids)

    # The process is gone: the batch says it is under way, its unfinished items pending.
    batch = await read(gateway, batch_id)
    assert batch["status"] == "running"
    assert batch["finished_at"] is None
    await assert_truthful(erp_case, batch)
    assert 0 < batch["counts"]["pending"] < INVOICES
    in_erp_unacknowledged = [
        item["invoice_id"]
        for item in batch["items"]
        if item["outcome"] == "pending" and erp_case.invoice_count(item["invoice_id"])
    ]
    assert in_erp_unacknowledged, "the process died before the ERP had any of its documents"

    # The batch's lease passes; its runs are still the dead process's for a while.
    await leases_pass(gateway, until=await batch_lease(gateway, batch_id))
    await worker_pass(gateway)
    batch = await read(gateway, batch_id)
    assert batch["status"] == "running", "completed while items had no outcome"
    await assert_truthful(erp_case, batch)
    held = [item for item in batch["items"] if item["outcome"] == "pending"]
    assert {item["invoice_id"] for item in held} >= set(in_erp_unacknowledged)
    for item in held:  # the run that holds it, for an operator to follow
        run = (await gateway.client.get(item["run_url"])).json()
        assert run["status"] == "running"

    # Their leases pass too: the background work finishes the batch.
    for _ in range(3):
        await leases_pass(gateway, until=utcnow() + timedelta(days=1))
        await worker_pass(gateway)
        batch = await read(gateway, batch_id)
        if batch["status"] == "completed":
            break
    await assert_finished_once(erp_case, erp, batch, ids)


async def test_the_runs_another_worker_finished_are_the_batch_s_own_postings(
    make_gateway: GatewayFactory,
) -> None:
    """Every lease has passed when another worker's replay takes the dead process's runs
    before any worker takes the batch: the invoices they posted are the batch's `posted`,
    not `already_posted`, since no posting preceded the batch."""
    erp_case, erp = await dying_gateway(make_gateway, "business_central")
    gateway = erp_case.gateway
    ids = await register(gateway, INVOICES)
    batch_id = await crashed_batch(erp_case, erp, ids)

    await leases_pass(gateway, until=utcnow() + timedelta(days=1))
    assert (await replayer(gateway.app.state.process).run_once()).claimed > 0
    await worker_pass(gateway)

    await assert_finished_once(erp_case, erp, await read(gateway, batch_id), ids)
