"""The background worker: the billing inbox, due runs of every workflow, the monthly
settlement, idempotency purges.

Every workflow joins the replayer here by its own declaration (`replays()`); the
worker loop and an operator's replay share that one replayer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from process_apis.billing_inbox import BillingInbox
from process_apis.credit_memos.workflow import CreditMemoWorkflow
from process_apis.customers.workflow import CustomerSyncWorkflow
from process_apis.deps import ProcessContext
from process_apis.entitlements.workflow import EntitlementResyncWorkflow
from process_apis.idempotency import IdempotencyStore
from process_apis.invoices.workflow import InvoicePostingWorkflow
from process_apis.payments.workflow import PaymentWorkflow
from process_apis.runs.replay import WORKER_BATCH, Replayable, Replayer
from process_apis.settlements.reversal import SettlementReversalWorkflow
from process_apis.settlements.schedule import SettlementSchedule
from process_apis.settlements.workflow import SettlementPostingWorkflow
from process_apis.subscriptions.workflow.amendment import SubscriptionAmendmentWorkflow
from process_apis.subscriptions.workflow.cancellation import SubscriptionCancelWorkflow
from process_apis.subscriptions.workflow.order import SubscriptionOrderWorkflow

logger = logging.getLogger(__name__)

WORKFLOWS: tuple[Callable[[ProcessContext], Replayable], ...] = (
    InvoicePostingWorkflow,
    CreditMemoWorkflow,
    PaymentWorkflow,
    SettlementPostingWorkflow,
    SettlementReversalWorkflow,
    CustomerSyncWorkflow,
    EntitlementResyncWorkflow,
    SubscriptionOrderWorkflow,
    SubscriptionAmendmentWorkflow,
    SubscriptionCancelWorkflow,
)


def replayer(context: ProcessContext) -> Replayer:
    """The replayer for every workflow of the gateway."""
    return Replayer(
        context.sessionmaker,
        [workflow(context) for workflow in WORKFLOWS],
        lease=context.settings.run_lease,
    )


async def run_forever(context: ProcessContext, *, interval: float, stop: asyncio.Event) -> None:
    """The worker loop: drain the inbox and the due runs, settle a due month, purge expired
    keys, sleep."""
    inbox, replay = BillingInbox(context), replayer(context)
    settlements = SettlementSchedule(context)
    store = IdempotencyStore(context.sessionmaker, context.settings.idempotency_retention)
    while not stop.is_set():
        drained = await inbox.drain()
        if drained.consumed:
            logger.info("billing.inbox.batch", extra={"consumed": drained.consumed})
        report = await replay.run_once()
        if report.claimed:
            logger.info("replay.batch", extra={"claimed": report.claimed, **report.outcomes})
        await settlements.settle_due_month()
        purged = await store.purge_expired()
        if purged:
            logger.info("idempotency.purged", extra={"count": purged})
        if report.claimed < WORKER_BATCH:
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                pass
