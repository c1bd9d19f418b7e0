"""Replaying queued runs: the worker loop and an operator's replay, resolve and discard.

Replays re-execute a run's steps; each step is idempotent downstream (it looks the
document up by its external number before it writes), so a replay after a crash
finds what the interrupted attempt created instead of creating it twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import LedgergateError, NotFound
from core.models.base import utcnow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.credit_memos import workflow as credit_memos
from process_apis.customers import sync as customer_sync
from process_apis.deps import ProcessContext
from process_apis.entitlements import resync as entitlement_resync
from process_apis.idempotency import IdempotencyStore
from process_apis.invoices import posting
from process_apis.payments import workflow as payments
from process_apis.payments.inbox import BillingInbox
from process_apis.queue import REPLAYABLE, RunNotReplayable, claim, claim_due
from process_apis.settlements import posting as settlements
from process_apis.settlements.schedule import SettlementSchedule
from process_apis.subscriptions import amendment, cancellation, order

logger = logging.getLogger(__name__)

WORKER_BATCH = 50


@dataclass
class ReplayReport:
    claimed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


class Replayer:
    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        invoice_posting = posting.InvoicePostingWorkflow(context)
        credit_memo = credit_memos.CreditMemoWorkflow(context)
        payment = payments.PaymentWorkflow(context)
        settlement = settlements.SettlementPostingWorkflow(context)
        self.inbox = BillingInbox(context)
        self.settlement_schedule = SettlementSchedule(context)
        self.resumers: dict[str, Callable[[str], Awaitable[Any]]] = {
            posting.WORKFLOW: invoice_posting.resume,
            credit_memos.WORKFLOW: credit_memo.resume,
            credit_memos.REVERSAL_WORKFLOW: credit_memo.reverse,
            payments.WORKFLOW: payment.resume,
            settlements.WORKFLOW: settlement.resume,
        }
        self.compensators: dict[str, Callable[[AsyncSession, WorkflowRunRow], Awaitable[None]]] = {
            posting.WORKFLOW: invoice_posting.discard,
            credit_memos.WORKFLOW: credit_memo.discard,
            payments.WORKFLOW: payment.discard,
            settlements.WORKFLOW: settlement.discard,
        }
        for module, workflow in (
            (customer_sync, customer_sync.CustomerSyncWorkflow(context)),
            (entitlement_resync, entitlement_resync.EntitlementResyncWorkflow(context)),
            (order, order.SubscriptionOrderWorkflow(context)),
            (amendment, amendment.SubscriptionAmendmentWorkflow(context)),
            (cancellation, cancellation.SubscriptionCancelWorkflow(context)),
        ):
            self.resumers[module.WORKFLOW] = workflow.resume
            self.compensators[module.WORKFLOW] = workflow.discard

    async def _resume(self, run_id: str, workflow: str) -> str:
        """Run one claimed run; returns the run's status afterwards."""
        try:
            await self.resumers[workflow](run_id)
        except LedgergateError as error:  # recorded on the run by the workflow itself
            logger.info("replay.run.failed", extra={"run_id": run_id, "error": str(error)})
        async with self.context.sessionmaker() as session:
            run = await session.get_one(WorkflowRunRow, run_id)
            return str(run.status)

    async def replay(self, run_id: str) -> str:
        """An operator's replay of one run, now, whatever its schedule."""
        workflow = await claim(self.context.sessionmaker, run_id)
        return await self._resume(run_id, workflow)

    async def run_once(self, *, limit: int = WORKER_BATCH) -> ReplayReport:
        """Claim the due runs and replay them one by one."""
        report = ReplayReport()
        claimed = await claim_due(self.context.sessionmaker, limit=limit)
        report.claimed = len(claimed)
        for run_id, workflow in claimed:
            report.add(await self._resume(run_id, workflow))
        return report

    async def settle_due_month(self) -> None:
        """The scheduled settlement run, when a month is due; a refusal is logged, not raised."""
        try:
            result = await self.settlement_schedule.run_due()
        except LedgergateError as error:
            logger.warning("settlement.schedule.failed", extra={"error": str(error)})
            return
        if result is not None:
            logger.info(
                "settlement.schedule.ran",
                extra={"period": result.period, "drawn_up": result.drawn_up},
            )

    async def run_forever(self, *, interval: float, stop: asyncio.Event) -> None:
        """The worker loop: drain due runs, settle a due month, purge expired keys, sleep."""
        store = IdempotencyStore(
            self.context.sessionmaker, self.context.settings.idempotency_retention
        )
        while not stop.is_set():
            inbox = await self.inbox.drain()
            if inbox.consumed:
                logger.info("billing.inbox.batch", extra={"consumed": inbox.consumed})
            report = await self.run_once()
            await self.settle_due_month()
            if report.claimed:
                logger.info("replay.batch", extra={"claimed": report.claimed, **report.outcomes})
            purged = await store.purge_expired()
            if purged:
                logger.info("idempotency.purged", extra={"count": purged})
            if report.claimed < WORKER_BATCH:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=interval)
                except TimeoutError:
                    pass

    async def close(self, run_id: str, *, status: RunStatus, note: str, operator: str) -> None:
        """Resolve (fixed elsewhere) or discard (given up, compensated) a queued run."""
        async with self.context.sessionmaker() as session:
            run = await session.get(WorkflowRunRow, run_id, with_for_update=True)
            if run is None:
                raise NotFound(f"no workflow run {run_id}")
            if run.status not in REPLAYABLE or (
                run.status == RunStatus.RUNNING
                and run.next_attempt_at is not None
                and run.next_attempt_at > utcnow()
            ):
                raise RunNotReplayable(f"run {run_id} is {run.status}", run_status=run.status)
            if status == RunStatus.DISCARDED:
                await self.compensators[run.workflow](session, run)
            run.status = status
            run.next_attempt_at = None
            run.finished_at = utcnow()
            run.result = {**(run.result or {}), "closed_by": operator, "note": note}
            await session.commit()
