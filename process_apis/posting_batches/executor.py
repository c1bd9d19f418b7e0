"""Posting a batch: chunk by chunk, each invoice through its own posting run.

A process claims the batch (a lease, renewed per chunk; a batch whose process died is
taken again by the worker). Per chunk, each invoice's run is prepared as for a single
posting (its own run, period checks and refusals), then the runs execute side by side
as bulk work in the ERP's budget, in two waves: first one run per customer the ERP may
not hold yet (it upserts the customer), then the others, which take the customer's ERP
id their wave-one run recorded instead of upserting it again. In each wave the
documents go to the ERP together (`documents`); a retried run looks its document up
first, and sends it with the others only when the ERP does not hold it.
Every item ends with its run's outcome; a failed item's run waits in the exception
queue like any other posting's, and a transient failure queues exactly the runs it hit.

The worker's queued retries of postings take the same path (`resume_runs`): the runs it
claims are taken again one by one and executed together, each recording its own outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial

from sqlalchemy import select

from core.context import correlated
from core.errors import LedgergateError
from core.models.customer import CustomerRow
from core.models.posting_batch import ItemOutcome, PostingBatchRow
from process_apis.deps import ProcessContext
from process_apis.invoices.schemas import PostingResult, PostingState
from process_apis.invoices.workflow import WORKFLOW, InvoicePostingWorkflow, PostingPlan
from process_apis.posting_batches import repository
from process_apis.posting_batches.documents import DocumentBatch
from process_apis.runs.engine import error_type_of
from process_apis.runs.errors import RunInProgress
from process_apis.runs.replay import Replay
from system_apis.priority import Priority, prioritized

logger = logging.getLogger(__name__)

CHUNK = 60
"""Invoices prepared and sent to the ERP together (two or more `$batch` requests)."""
PLACES = 6
"""Runs of a chunk working with the database at once (`DocumentBatch`)."""
LANES = 2
"""Chunks in progress at once: one prepares and records while another waits for the ERP."""
RESUME_LIMIT = 10

Settle = Callable[[PostingPlan, PostingResult | LedgergateError], Awaitable[None]]
"""What becomes of one run's outcome (or the error that ended it) once it has one."""


class PostingBatchExecutor:
    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.workflow = InvoicePostingWorkflow(context)
        self.lease = context.settings.run_lease

    async def run(self, batch_id: str) -> bool:
        """Post the batch's pending items, if this process can claim it."""
        async with self.context.sessionmaker.begin() as session:
            if not await repository.claim(session, batch_id, lease=self.lease):
                return False
        async with self.context.sessionmaker() as session:
            batch = await repository.get_batch(session, batch_id)
            pending = [
                item.invoice_id
                for item in await repository.batch_items(session, batch_id)
                if item.outcome == ItemOutcome.PENDING
            ]
        lanes = asyncio.Semaphore(LANES)

        async def post(chunk: list[str]) -> None:
            async with lanes:
                await self._post_chunk(batch, chunk)
                async with self.context.sessionmaker.begin() as session:
                    await repository.renew(session, batch_id, lease=self.lease)

        with prioritized(Priority.BULK):
            await asyncio.gather(
                *(post(pending[i : i + CHUNK]) for i in range(0, len(pending), CHUNK))
            )
        async with self.context.sessionmaker.begin() as session:
            await repository.complete(session, batch_id)
        logger.info("posting_batch.completed", extra={"batch_id": batch_id})
        return True

    async def resume_abandoned(self) -> int:
        """Take the batches nobody holds (a process died); how many were posted."""
        async with self.context.sessionmaker() as session:
            batch_ids = await repository.abandoned(session, limit=RESUME_LIMIT)
        return sum([await self.run(batch_id) for batch_id in batch_ids])

    def replays(self) -> dict[str, Replay]:
        """The posting workflow's replays, its queued retries resumed together as bulk work."""
        return {WORKFLOW: replace(self.workflow.replays()[WORKFLOW], together=self.resume_runs)}

    async def resume_runs(self, run_ids: list[str]) -> None:
        """Retry runs claimed from the exception queue as bulk work: each run is taken again
        as one replay would take it, then their documents go to the ERP together. Each
        outcome is recorded on its run."""
        plans: list[PostingPlan] = []
        for run_id in run_ids:
            try:
                prepared = await self.workflow.prepare_resume(run_id)
            except LedgergateError as error:  # recorded on the run by the workflow
                logger.info("replay.run.failed", extra={"run_id": run_id, "error": str(error)})
                continue
            if isinstance(prepared, PostingPlan):
                plans.append(prepared)
        with prioritized(Priority.BULK):
            await self._post_plans(plans, _logged)

    async def _post_chunk(self, batch: PostingBatchRow, invoice_ids: list[str]) -> None:
        plans: list[PostingPlan] = []
        for invoice_id in invoice_ids:
            try:
                prepared = await self.workflow.prepare(
                    invoice_id, client_id=batch.client_id, correlation_id=batch.correlation_id
                )
            except LedgergateError as error:
                await self._failed(batch.id, invoice_id, error)
                continue
            if isinstance(prepared, PostingResult):
                await self._outcome(batch.id, invoice_id, ItemOutcome.ALREADY_POSTED, prepared)
            else:
                plans.append(prepared)
        await self._post_plans(plans, partial(self._settle, batch.id))

    async def _post_plans(self, plans: list[PostingPlan], settle: Settle) -> None:
        """The plans' runs in two waves (see the module docstring), each settled by `settle`."""
        leaders = {
            (plan.company_id, plan.customer_id): plan
            for plan in reversed(plans)
            if plan.known_erp_customer_id is None
        }
        await self._execute_together(list(leaders.values()), settle)
        known = await self._erp_customer_ids({customer for _, customer in leaders})
        await self._execute_together(
            [
                replace(plan, known_erp_customer_id=known.get(plan.customer_id))
                if plan.known_erp_customer_id is None
                else plan
                for plan in plans
                if plan not in leaders.values()
            ],
            settle,
        )

    async def _erp_customer_ids(self, customer_ids: set[str]) -> dict[str, str]:
        """The customers' ERP ids as their first postings of the chunk recorded them."""
        if not customer_ids:
            return {}
        async with self.context.sessionmaker() as session:
            rows = await session.execute(
                select(CustomerRow.id, CustomerRow.erp_ref).where(
                    CustomerRow.id.in_(customer_ids), CustomerRow.erp_ref.is_not(None)
                )
            )
            return {customer_id: erp_ref for customer_id, erp_ref in rows if erp_ref}

    async def _execute_together(self, plans: list[PostingPlan], settle: Settle) -> None:
        """The plans' runs side by side, their new documents gathered per ERP company."""
        by_company: dict[str, list[PostingPlan]] = defaultdict(list)
        for plan in plans:
            by_company[plan.company_id].append(plan)
        documents = {
            company: DocumentBatch(
                partial(self.context.erp.post_new_sales_invoices, company),
                (plan.run_id for plan in company_plans),
                places=PLACES,
            )
            for company, company_plans in by_company.items()
        }
        await asyncio.gather(
            *(self._execute(plan, documents[plan.company_id], settle) for plan in plans)
        )

    async def _execute(self, plan: PostingPlan, documents: DocumentBatch, settle: Settle) -> None:
        with correlated(plan.correlation_id):
            await documents.enter(plan.run_id)
            try:
                outcome: PostingResult | LedgergateError = await self.workflow.execute(
                    plan, bulk=documents.submit
                )
            except LedgergateError as error:
                outcome = error
            finally:
                documents.done(plan.run_id)
            await settle(plan, outcome)

    async def _settle(
        self, batch_id: str, plan: PostingPlan, outcome: PostingResult | LedgergateError
    ) -> None:
        """A batch item's outcome from its run's."""
        if isinstance(outcome, LedgergateError):
            await self._failed(batch_id, plan.invoice_id, outcome, run_id=plan.run_id)
            return
        queued = outcome.state == PostingState.PENDING_RETRY
        item = ItemOutcome.QUEUED if queued else ItemOutcome.POSTED
        await self._outcome(batch_id, plan.invoice_id, item, outcome)

    async def _outcome(
        self, batch_id: str, invoice_id: str, outcome: ItemOutcome, result: PostingResult
    ) -> None:
        async with self.context.sessionmaker.begin() as session:
            await repository.set_outcome(
                session, batch_id, invoice_id, outcome, run_id=result.run_id
            )

    async def _failed(
        self, batch_id: str, invoice_id: str, error: LedgergateError, *, run_id: str | None = None
    ) -> None:
        """A run that failed waits in the exception queue; a posting that could not start
        (another run holds the invoice, its status allows none) is `refused`."""
        run_id = run_id or error.extensions.get("run_id")
        started = run_id is not None and not isinstance(error, RunInProgress)
        async with self.context.sessionmaker.begin() as session:
            await repository.set_outcome(
                session,
                batch_id,
                invoice_id,
                ItemOutcome.FAILED if started else ItemOutcome.REFUSED,
                run_id=run_id,
                error_type=error_type_of(error),
                error_detail=str(error),
            )


async def _logged(plan: PostingPlan, outcome: PostingResult | LedgergateError) -> None:
    """A retried run's outcome is its run's own; a failure is logged besides."""
    if isinstance(outcome, LedgergateError):
        logger.info("replay.run.failed", extra={"run_id": plan.run_id, "error": str(outcome)})
