"""The billing inbox consumer: acts on the billing events the webhook receiver stored.

`app/webhooks` puts each verified billing event in the inbox once; this consumer
takes the pending ones it handles in arrival order (locked with `SKIP LOCKED`, so
replicas share the work), and marks each processed in the transaction that acts on it:

- `invoice.finalized` and `invoice.paid` link the billing invoice to the gateway's
  invoice: the one whose `billing_ref` is the billing invoice, or the one the billing
  invoice names as ours (`metadata[ledgergate_id]`), which then gets the `billing_ref`;
  a billing invoice of one of our subscriptions that is neither is registered as a
  gateway invoice (`invoices.billed`). The invoices one pass registers are queued as one
  posting batch in the same transaction and, once committed, posted to the ERP as bulk
  work (`process_apis.posting_batches`: each with its own run, in as few ERP requests as
  the batch limit allows), before any payment is applied to them; a batch whose process
  died is taken again by the worker;
- `invoice.paid` also records the payment (one per billing invoice: a redelivery finds
  it) with its workflow run: the cash billing collected, and what the customer's credit
  balance paid besides (`balance_applied`, applied from the open credit memos), and
  the payment is then applied (`PaymentWorkflow`). The run
  is leased in that same transaction: if the process dies before it is applied, the
  replay worker takes the abandoned run over.

Either link needs the billing invoice to bill our customer's billing customer: one that
bills another is neither linked nor registered, and waits in the exception queue as a
failed `billing_invoice_link` run explaining the mismatch (an operator corrects billing
and resolves it; a replay only checks again).

`charge.refunded` records each refund of a charge that paid one of our payments, with
its run (`payments.refunds`), booked in the ERP once committed. `charge.dispute.created`
opens a dispute that holds the payment's commission, and `charge.dispute.closed` releases
it (won) or journals the loss and claws the commission back (lost), with its run booked
once committed (`payments.disputes`).

Dunning (`process_apis.dunning.inbox`) sees every event first, in the same transaction:
`invoice.payment_failed` and a subscription turning `past_due` or `unpaid` open dunning,
and `invoice.paid` closes it, reactivating a suspended account once committed.

Events of other types are left for their own consumers. An event about an invoice the
gateway does not know is marked processed and logged: nothing here can act on it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from uuid import uuid4

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.context import correlated
from core.errors import LedgergateError
from core.ids import new_id
from core.models.base import utcnow
from core.models.invoice import InvoiceRow
from core.models.payment import PaymentRow, PaymentSource, PaymentStatus
from core.models.webhook_event import WebhookInboxRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.deps import ProcessContext
from process_apis.dunning.inbox import DunningInbox
from process_apis.errors import BillingCustomerMismatch
from process_apis.invoices.billed import check_billing_customer, register_billed_invoice
from process_apis.payments.disputes import DisputeWorkflow
from process_apis.payments.refunds import RefundWorkflow
from process_apis.payments.workflow import WORKFLOW, PaymentWorkflow
from process_apis.posting_batches.executor import PostingBatchExecutor
from process_apis.posting_batches.repository import add_batch
from process_apis.runs.engine import mark_failed
from process_apis.runs.replay import Replay
from process_apis.runs.repository import latest_run
from system_apis.billing.schemas import BillingEvent, BillingEventType, BillingInvoice

logger = logging.getLogger(__name__)

PROVIDER = "stripe"
LINKED = (BillingEventType.INVOICE_FINALIZED, BillingEventType.INVOICE_PAID)
HANDLED = (
    *LINKED,
    BillingEventType.INVOICE_PAYMENT_FAILED,
    BillingEventType.SUBSCRIPTION_UPDATED,
    BillingEventType.CHARGE_REFUNDED,
    BillingEventType.DISPUTE_CREATED,
    BillingEventType.DISPUTE_CLOSED,
)
CONSUMER = "billing-inbox"
# The exception-queue entry of a billing invoice that bills another customer than ours.
LINK_WORKFLOW = "billing_invoice_link"
BATCH = 50


@dataclass
class InboxReport:
    consumed: int = 0
    invoices: list[str] = field(default_factory=list)
    payments: list[str] = field(default_factory=list)
    reactivations: list[str] = field(default_factory=list)
    refunds: list[str] = field(default_factory=list)
    dispute_losses: list[str] = field(default_factory=list)


class BillingInbox:
    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.payments = PaymentWorkflow(context)
        self.postings = PostingBatchExecutor(context)
        self.dunning = DunningInbox(context)
        self.refunds = RefundWorkflow(context)
        self.disputes = DisputeWorkflow(context)

    async def drain(self, *, limit: int = BATCH) -> InboxReport:
        """Handle up to `limit` pending events; then post the invoices they registered and
        apply the payments they recorded."""
        report = InboxReport()
        started: list[tuple[str, str]] = []
        async with self.context.sessionmaker() as session:
            rows = (
                await session.scalars(
                    select(WebhookInboxRow)
                    .where(
                        WebhookInboxRow.processed_at.is_(None),
                        WebhookInboxRow.provider == PROVIDER,
                        WebhookInboxRow.event_type.in_([kind.value for kind in HANDLED]),
                    )
                    .order_by(WebhookInboxRow.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for row in rows:
                event = BillingEvent.model_validate(row.payload)
                reactivation = await self.dunning.on_event(session, event)
                if reactivation is not None:
                    report.reactivations.append(reactivation)
                payment = await self._handle(session, event, report.invoices)
                if payment is not None:
                    started.append(payment)
                if event.charge is not None:
                    report.refunds += await self.refunds.on_refunded(session, event.charge)
                if event.dispute is not None:
                    loss = await self.disputes.on_dispute(session, event.dispute)
                    report.dispute_losses += [loss] if loss is not None else []
                row.processed_at = utcnow()
            report.consumed = len(rows)
            batch = (
                await add_batch(
                    session, report.invoices, client_id=CONSUMER, correlation_id=str(uuid4())
                )
                if report.invoices
                else None
            )
            await session.commit()
        if batch is not None:
            await self.postings.run(batch.id)
        for payment_id, run_id in started:
            try:
                with correlated(cid := str(uuid4())):
                    await self.payments.apply(
                        payment_id, client_id=CONSUMER, correlation_id=cid, claimed_run_id=run_id
                    )
            except LedgergateError as error:  # recorded on the run, which waits in the queue
                logger.info(
                    "billing.inbox.payment_failed",
                    extra={"payment_id": payment_id, "error": str(error)},
                )
            report.payments.append(payment_id)
        await self._reactivate(report.reactivations)
        await _carry_out(report.refunds, self.refunds.book)
        await _carry_out(report.dispute_losses, self.disputes.book_loss)
        return report

    async def _reactivate(self, run_ids: list[str]) -> None:
        for run_id in run_ids:
            try:
                with correlated(str(uuid4())):
                    await self.dunning.reactivate(run_id)
            except LedgergateError as error:  # recorded on the run, which waits in the queue
                logger.info(
                    "billing.inbox.reactivation_failed",
                    extra={"run_id": run_id, "error": str(error)},
                )

    def replays(self) -> dict[str, Replay]:
        return {LINK_WORKFLOW: Replay(resume=self._check_again, discard=_nothing_linked)}

    async def _check_again(self, run_id: str) -> None:
        """A replay cannot fix billing: the run fails again, waiting to be resolved."""
        async with self.context.sessionmaker.begin() as session:
            run = await session.get_one(WorkflowRunRow, run_id)
            mark_failed(run, BillingCustomerMismatch(run.error_detail or "customer mismatch"))

    async def _handle(
        self, session: AsyncSession, event: BillingEvent, registered: list[str]
    ) -> tuple[str, str] | None:
        """Link (or register) the event's invoice; for a payment, record it and its run."""
        billed = event.invoice
        if billed is None or event.type not in LINKED:
            return None
        try:
            invoice = await _linked_invoice(session, billed)
            if invoice is None:
                invoice = await register_billed_invoice(
                    session,
                    billed,
                    invoiced_on=event.occurred_at.date(),
                    untaxed_tax_codes=self.context.settings.ledger.untaxed_tax_codes,
                )
                if invoice is not None and invoice.id not in registered:
                    registered.append(invoice.id)
        except BillingCustomerMismatch as error:
            await self._queue_mismatch(session, event, error)
            return None
        if invoice is None:
            logger.warning(
                "billing.inbox.invoice_unknown",
                extra={"event_id": event.id, "billing_invoice": billed.id},
            )
            return None
        if event.type != BillingEventType.INVOICE_PAID or (
            billed.amount_paid <= 0 and billed.balance_applied <= 0
        ):
            return None
        known = await session.scalar(
            select(PaymentRow.id).where(
                PaymentRow.source == PaymentSource.BILLING, PaymentRow.source_ref == billed.id
            )
        )
        if known is not None:
            return None
        payment = PaymentRow(
            id=new_id("payment"),
            invoice_id=invoice.id,
            customer_id=invoice.customer_id,
            legal_entity_id=invoice.legal_entity_id,
            currency=billed.currency,
            amount=billed.amount_paid,
            balance_applied=billed.balance_applied,
            paid_on=event.occurred_at.date(),
            source=PaymentSource.BILLING,
            source_ref=billed.id,
            reference=event.id,
            status=PaymentStatus.RECORDED,
            charge_ref=billed.charge_id,
        )
        run = self.payments.engine.new_run(
            workflow=WORKFLOW,
            subject_id=payment.id,
            legal_entity_id=payment.legal_entity_id,
            params={"source": PaymentSource.BILLING.value, "source_ref": billed.id},
            correlation_id=None,
            client_id=CONSUMER,
        )
        run.attempts = 0  # `apply` counts the first attempt when it takes the leased run
        session.add_all([payment, run])
        await session.flush()
        return payment.id, run.id

    async def _queue_mismatch(
        self, session: AsyncSession, event: BillingEvent, error: BillingCustomerMismatch
    ) -> None:
        """One failed run per billing invoice, in the queue, explaining the mismatch."""
        assert event.invoice is not None
        latest = await latest_run(session, workflow=LINK_WORKFLOW, subject_id=event.invoice.id)
        if latest is not None and latest.status == RunStatus.FAILED:
            return
        run = self.payments.engine.new_run(
            workflow=LINK_WORKFLOW,
            subject_id=event.invoice.id,
            legal_entity_id=None,
            params={"event_id": event.id, **error.extensions},
            correlation_id=None,
            client_id=CONSUMER,
        )
        mark_failed(run, error)
        session.add(run)
        logger.warning(
            "billing.inbox.customer_mismatch",
            extra={"event_id": event.id, "billing_invoice": event.invoice.id},
        )


async def _carry_out(run_ids: list[str], execute: Callable[[str], Awaitable[None]]) -> None:
    """Each leased run carried out under a correlation id of its own."""
    for run_id in run_ids:
        try:
            with correlated(str(uuid4())):
                await execute(run_id)
        except LedgergateError as error:  # recorded on the run, which waits in the queue
            logger.info("billing.inbox.run_failed", extra={"run_id": run_id, "error": str(error)})


async def _nothing_linked(_session: AsyncSession, _run: WorkflowRunRow) -> None:
    """Giving a mismatch up compensates nothing: nothing was linked or registered."""


async def _linked_invoice(session: AsyncSession, billed: BillingInvoice) -> InvoiceRow | None:
    """The gateway invoice of a billing invoice, linked by `billing_ref` if it was not yet."""
    invoice = await session.scalar(select(InvoiceRow).where(InvoiceRow.billing_ref == billed.id))
    if invoice is not None:
        return invoice
    if billed.reference is None:
        return None
    invoice = await session.get(InvoiceRow, billed.reference, with_for_update=True)
    if invoice is None:
        return None
    await check_billing_customer(session, billed, customer_id=invoice.customer_id, unknown_ok=True)
    if invoice.billing_ref is not None:  # ours, but linked to another billing document
        logger.warning(
            "billing.inbox.invoice_linked_elsewhere",
            extra={"invoice_id": invoice.id, "billing_invoice": billed.id},
        )
        return None
    invoice.billing_ref = billed.id
    return invoice
