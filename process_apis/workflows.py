"""Every workflow the gateway replays, and the one replayer over them all.

Each workflow joins by its own declaration (`replays()`); the background work's passes
and an operator's replay (console, ops API) share this replayer. Apart from the worker
loop so that a request that replays a run loads no relay, sink or webhook client.
"""

from __future__ import annotations

from collections.abc import Callable

from process_apis.billing_inbox import BillingInbox
from process_apis.credit_memos.corrections import CorrectionWorkflow
from process_apis.credit_memos.workflow import CreditMemoWorkflow
from process_apis.customers.workflow import CustomerSyncWorkflow
from process_apis.deps import ProcessContext
from process_apis.dunning.workflow import AccountStatusWorkflow
from process_apis.entitlements.workflow import EntitlementResyncWorkflow
from process_apis.erp_drafts import ErpDraftCleanup
from process_apis.invoices.mismatch import PostingReversal
from process_apis.invoices.void import InvoiceVoidWorkflow
from process_apis.orders.workflow import SalesOrderWorkflow
from process_apis.payments.disputes import DisputeWorkflow
from process_apis.payments.refunds import RefundWorkflow
from process_apis.payments.reversal import PaymentReversalWorkflow
from process_apis.payments.workflow import PaymentWorkflow
from process_apis.posting_batches.executor import PostingBatchExecutor
from process_apis.revenue.reversal import RecognitionReversalWorkflow
from process_apis.revenue.workflow import RecognitionWorkflow
from process_apis.runs.replay import Replayable, Replayer
from process_apis.settlements.reversal import SettlementReversalWorkflow
from process_apis.settlements.workflow import SettlementPostingWorkflow
from process_apis.subscriptions.workflow.amendment import SubscriptionAmendmentWorkflow
from process_apis.subscriptions.workflow.cancellation import SubscriptionCancelWorkflow
from process_apis.subscriptions.workflow.order import SubscriptionOrderWorkflow

WORKFLOWS: tuple[Callable[[ProcessContext], Replayable], ...] = (
    PostingBatchExecutor,  # the invoice posting's runs, its queued retries as bulk work
    InvoiceVoidWorkflow,
    PostingReversal,
    CreditMemoWorkflow,
    CorrectionWorkflow,
    PaymentWorkflow,
    PaymentReversalWorkflow,
    RefundWorkflow,
    DisputeWorkflow,
    SettlementPostingWorkflow,
    SettlementReversalWorkflow,
    RecognitionWorkflow,
    RecognitionReversalWorkflow,
    CustomerSyncWorkflow,
    EntitlementResyncWorkflow,
    SubscriptionOrderWorkflow,
    SubscriptionAmendmentWorkflow,
    SubscriptionCancelWorkflow,
    ErpDraftCleanup,
    BillingInbox,
    AccountStatusWorkflow,
    SalesOrderWorkflow,
)


def replayer(context: ProcessContext) -> Replayer:
    """The replayer for every workflow of the gateway."""
    return Replayer(
        context.sessionmaker,
        [workflow(context) for workflow in WORKFLOWS],
        lease=context.settings.run_lease,
    )
