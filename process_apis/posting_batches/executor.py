"""Posting a batch: its invoices' runs under way together, each settled as its item.

A process claims the batch (a lease, renewed as items finish; a batch whose process
died is taken again by the worker). Taken again, the batch may find an item's run still
held by the dead process (the batch's lease started first, so it passes first): the
item stays `pending` naming that run, and the batch `running` until that run's lease
passes, when it is taken once more; it is `completed` only with every item's outcome.
Each invoice's run is prepared as for a single posting (its own run, period checks and
refusals) and executed as bulk work in the ERP's budget, its document sent with others'
in bulk requests as soon as a request is full (`flow`); a retried run looks its document
up first, and sends it with the others only when the ERP does not hold it. Every item
ends with its run's outcome; a failed item's run waits in the exception queue like any
other posting's, and a transient failure queues exactly the runs it hit.

The worker's queued retries of postings take the same path (`resume_runs`): the runs it
claims are taken again one by one and executed together, each recording its own outcome.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from core.errors import LedgergateError
from core.models.posting_batch import BatchStatus, ItemOutcome, PostingBatchRow
from process_apis.deps import ProcessContext
from process_apis.invoices.schemas import PostingResult, PostingState
from process_apis.invoices.workflow import WORKFLOW, InvoicePostingWorkflow, PostingPlan
from process_apis.posting_batches import repository
from process_apis.posting_batches.flow import PostingFlow
from process_apis.runs.engine import error_type_of
from process_apis.runs.errors import RunInProgress
from process_apis.runs.replay import Replay
from system_apis.priority import Priority, prioritized

logger = logging.getLogger(__name__)

RENEW_EVERY = 60
"""Items finished between two renewals of the batch's lease."""
RESUME_LIMIT = 10


class PostingBatchExecutor:
    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.workflow = InvoicePostingWorkflow(context)
        self.lease = context.settings.run_lease

    async def run(self, batch_id: str) -> bool:
        """Post the batch's pending items, if this process can claim it."""
        async with self.context.sessionmaker.begin() as session:
            taken_from = await repository.claim(session, batch_id, lease=self.lease)
        if taken_from is None:
            return False
        async with self.context.sessionmaker() as session:
            batch = await repository.get_batch(session, batch_id)
            pending = [
                item.invoice_id
                for item in await repository.batch_items(session, batch_id)
                if item.outcome == ItemOutcome.PENDING
            ]
        # Taken again (its process died): a run another process holds may be the batch's own.
        held: dict[str, str] | None = {} if taken_from == BatchStatus.RUNNING else None
        finished = 0

        async def settle(plan: PostingPlan, outcome: PostingResult | LedgergateError) -> None:
            nonlocal finished
            await self._settle(batch_id, plan, outcome)
            finished += 1
            if finished % RENEW_EVERY == 0:
                async with self.context.sessionmaker.begin() as session:
                    await repository.renew(session, batch_id, lease=self.lease)

        async def prepare(invoice_id: str) -> PostingPlan | None:
            return await self._prepare_item(batch, invoice_id, held)

        with prioritized(Priority.BULK):
            await PostingFlow(self.context, self.workflow, settle).post(pending, prepare)
        async with self.context.sessionmaker.begin() as session:
            if held:
                await repository.wait_for_runs(session, batch_id, list(held.values()))
            else:
                await repository.complete(session, batch_id)
        event = "posting_batch.waiting" if held else "posting_batch.completed"
        logger.info(event, extra={"batch_id": batch_id, "held": len(held or ())})
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

        async def prepare(run_id: str) -> PostingPlan | None:
            try:
                prepared = await self.workflow.prepare_resume(run_id)
            except LedgergateError as error:  # recorded on the run by the workflow
                logger.info("replay.run.failed", extra={"run_id": run_id, "error": str(error)})
                return None
            return prepared if isinstance(prepared, PostingPlan) else None

        with prioritized(Priority.BULK):
            await PostingFlow(self.context, self.workflow, _logged).post(run_ids, prepare)

    async def _prepare_item(
        self,
        batch: PostingBatchRow,
        invoice_id: str,
        held: dict[str, str] | None,
    ) -> PostingPlan | None:
        """The item's plan; an item that needs no posting has its outcome recorded. `held` (a
        batch taken again): the items whose run another process holds, left `pending` naming
        that run until it lets go (a first taking refuses them); an invoice a run of the
        batch posted (finished after its process died) is `posted`, not `already_posted`."""
        try:
            prepared = await self.workflow.prepare(
                invoice_id, client_id=batch.client_id, correlation_id=batch.correlation_id
            )
        except RunInProgress as error:
            if held is None:
                await self._failed(batch.id, invoice_id, error)
                return None
            held[invoice_id] = error.extensions["run_id"]
            async with self.context.sessionmaker.begin() as session:
                await repository.set_outcome(
                    session, batch.id, invoice_id, ItemOutcome.PENDING, run_id=held[invoice_id]
                )
            return None
        except LedgergateError as error:
            await self._failed(batch.id, invoice_id, error)
            return None
        if isinstance(prepared, PostingResult):
            own = held is not None and await self._started(batch, prepared.run_id)
            outcome = ItemOutcome.POSTED if own else ItemOutcome.ALREADY_POSTED
            await self._outcome(batch.id, invoice_id, outcome, prepared)
            return None
        return prepared

    async def _started(self, batch: PostingBatchRow, run_id: str) -> bool:
        """Whether the batch's own run posted the invoice (finished after its process died)."""
        async with self.context.sessionmaker() as session:
            return await repository.started_run(session, batch, run_id)

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
