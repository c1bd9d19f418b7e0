"""Many posting runs under way together as bulk work, their documents streamed to the ERP.

Each item (an invoice of a batch, a queued run) is prepared as a single posting would
be (its own run, period checks and refusals) as soon as it has its turn, and executed
at once: its document joins the `DocumentStream`, which sends a company's full bulk
request as soon as one is ready. At most `IN_FLIGHT` items are under way, so a batch of
any size holds a bounded number of documents waiting for the ERP's budget, and those
wait far less than the budget's deadline. The ERP's window is never left idle while
the next runs prepare: they prepare while the earlier requests are in flight.

A customer the ERP may not hold yet is upserted by its first run only (the leader); the
customer's other runs wait for it and take the ERP id it recorded instead of upserting
it again (or upsert it themselves when the leader failed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace

from sqlalchemy import select

from core.context import correlated
from core.errors import LedgergateError
from core.models.customer import CustomerRow
from process_apis.deps import ProcessContext
from process_apis.invoices.schemas import PostingResult
from process_apis.invoices.workflow import InvoicePostingWorkflow, PostingPlan
from process_apis.posting_batches.documents import DocumentStream
from system_apis.erp.schemas import ErpSalesInvoice, ErpSalesInvoiceCreate

IN_FLIGHT = 120
"""Items under way at once: several bulk requests' worth (Business Central's carry 17 to
48 documents), so the next requests are ready whenever the ERP's window has room."""
PLACES = 6
"""Runs working with the database at once, so many never run the connection pool dry."""
PREPARING = 2
"""Items preparing at once: the runs further along (a leader's steps, outcomes to record)
take the other places first, not after every item under way has prepared."""

Prepare = Callable[[str], Awaitable[PostingPlan | None]]
"""An item's plan, or None when it needs no posting (its outcome is recorded already)."""
Settle = Callable[[PostingPlan, PostingResult | LedgergateError], Awaitable[None]]
"""What becomes of one run's outcome (or the error that ended it) once it has one."""


class PostingFlow:
    """One batch's (or one pass of retries') runs: prepared, executed, settled."""

    def __init__(
        self, context: ProcessContext, workflow: InvoicePostingWorkflow, settle: Settle
    ) -> None:
        self.context = context
        self.workflow = workflow
        self.settle = settle
        self.places = asyncio.Semaphore(PLACES)
        self._preparing = asyncio.Semaphore(PREPARING)
        erp = context.erp
        self.documents = DocumentStream(
            erp.post_new_sales_invoices, erp.bulk_invoices_per_request, places=self.places
        )
        self._leaders: dict[tuple[str, str], asyncio.Event] = {}

    async def post(self, items: Iterable[str], prepare: Prepare) -> None:
        """Each item's run, in order as turns come, at most `IN_FLIGHT` under way."""
        turns = asyncio.Semaphore(IN_FLIGHT)
        started: list[asyncio.Task[None]] = []  # all kept: an item's crash is the batch's

        async def one(item: str) -> None:
            key = f"item:{item}"  # the stream expects the item's document from the start
            self.documents.expect(key)
            try:
                async with self._preparing, self.places:
                    plan = await prepare(item)
                if plan is not None:
                    await self._post_plan(key, plan)
            finally:
                self.documents.done(key)
                turns.release()

        for item in items:
            await turns.acquire()
            started.append(asyncio.create_task(one(item)))
        await asyncio.gather(*started)

    async def _post_plan(self, key: str, plan: PostingPlan) -> None:
        if plan.known_erp_customer_id is None:
            customer = (plan.company_id, plan.customer_id)
            leader = self._leaders.get(customer)
            if leader is None:
                self._leaders[customer] = asyncio.Event()
                try:
                    await self._execute(key, plan)
                finally:
                    self._leaders[customer].set()
                return
            self.documents.done(key)  # no document before the leader's
            await leader.wait()
            self.documents.expect(key)
            async with self.places:
                known = await self._erp_customer_id(plan.customer_id)
            plan = replace(plan, known_erp_customer_id=known)
        await self._execute(key, plan)

    async def _erp_customer_id(self, customer_id: str) -> str | None:
        """The customer's ERP id as its leader's posting recorded it."""
        async with self.context.sessionmaker() as session:
            erp_ref: str | None = await session.scalar(
                select(CustomerRow.erp_ref).where(CustomerRow.id == customer_id)
            )
            return erp_ref

    async def _execute(self, key: str, plan: PostingPlan) -> None:
        documents = self.documents

        async def bulk(_: str, document: ErpSalesInvoiceCreate) -> ErpSalesInvoice:
            return await documents.submit(key, plan.company_id, document)

        with correlated(plan.correlation_id):
            await documents.enter(key)
            try:
                outcome: PostingResult | LedgergateError = await self.workflow.execute(
                    plan, bulk=bulk
                )
            except LedgergateError as error:
                outcome = error
            finally:
                documents.done(key)
            async with self.places:
                await self.settle(plan, outcome)
