"""Refunds: billing paid back all or part of a paid invoice's charge (Stripe's
`charge.refunded`); the ERP books it against the original invoice, and the partner
commission earned on the refunded amount is clawed back, naming the refund.

`record` (the billing inbox's transaction): one refund row per billing refund (a
redelivered event finds it) on the payment the charge made, its credit memo (`kind:
refund`, approved: billing has paid the money back already) and its run, leased, so the
refund and the run that books it commit together. The legal entity's refund policy
(`LEDGERGATE_LEDGER__REFUND_POLICIES`) is fixed then.

`book`, once committed: prepare (one transaction, the payment locked): the payment must be
applied in the ERP; the documents are dated today or by the closed-period policy. The
steps, with no transaction open, each keyed by the refund or its memo so a repeat finds
what it made: with `credit_memo_and_refund`, the payment journal is ensured and the
customer refund added (the refunded amount taken back from the bank, applied to the
invoice, external document number the refund's id), then the credit memo is created and
posted applied to the invoice, which so owes nothing again; with `credit_memo`, the credit
memo alone, left open as the customer's credit. The ERP credit memo must total the
refunded amount, tax included: a difference is an exception, never a success. Then, in
one transaction: the refund `booked`, its memo `posted`, the commission clawed back
(`clawback`, the cumulative share of the payment refunded), and the events recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.base import fit
from core.canonical.documents import (
    CREDIT_MEMO_STATUS,
    CreditMemoKind,
    CreditMemoStatus,
    CreditSettlement,
)
from core.errors import BusinessRuleViolation, LedgergateError
from core.ids import new_id
from core.models.base import utcnow
from core.models.credit_memo import CreditMemoRow
from core.models.customer import CustomerRow
from core.models.invoice import InvoiceRow
from core.models.legal_entity import LegalEntityRow
from core.models.payment import PaymentRow, PaymentStatus
from core.models.refund import RefundRow, RefundStatus
from core.models.workflow_run import WorkflowRunRow
from core.settings import LedgerSettings, RefundPolicy
from events.attribution import customer_partner
from events.outbox import record
from events.schemas import payment as payment_events
from events.schemas.refund import refund_booked
from process_apis import lookups
from process_apis.credit_memo_steps import (
    ErpMemo,
    customer_refund,
    pay_back,
    payment_journal,
    post_erp_memo,
)
from process_apis.deps import ProcessContext
from process_apis.legal_entities.periods import posting_date_for
from process_apis.legal_entities.repository import get_legal_entity
from process_apis.payments import repository
from process_apis.payments.clawback import Share, claw_back
from process_apis.payments.commissions import half_up
from process_apis.payments.errors import PaymentInLedger, PaymentNotApplied
from process_apis.runs.engine import Engine, failing, mark_succeeded
from process_apis.runs.replay import Replay
from process_apis.runs.repository import succeeded_step
from system_apis.billing.schemas import BillingCharge, BillingRefund
from system_apis.erp.schemas import (
    ErpCustomerPayment,
    ErpCustomerPaymentReversal,
    ErpInvoiceLine,
    ErpJournalCreate,
    ErpSalesCreditMemo,
    ErpSalesCreditMemoCreate,
)
from system_apis.errors import BackendTransientError

logger = logging.getLogger(__name__)

WORKFLOW = "refund"
STEPS = (
    "find_credit_note",
    "ensure_payment_journal",
    "refund_payment",
    "create_erp_credit_memo",
    "post_erp_credit_memo",
    "read_erp_invoice",
)
CLIENT = "billing-inbox"


class RefundExceedsPayment(BusinessRuleViolation):
    slug = "refund-exceeds-payment"
    title = "The refunds of a payment add up to more than it paid"


class UnknownRefundingCreditNote(BusinessRuleViolation):
    slug = "unknown-refunding-credit-note"
    title = "A billing credit note paid the refund back for no credit of ours"


class RefundAmountMismatch(BusinessRuleViolation):
    slug = "refund-amount-mismatch"
    title = "The ERP credited another amount than billing refunded"


@dataclass(frozen=True)
class RefundPlan:
    run_id: str
    refund_id: str
    company_id: str
    amount: int
    journal: ErpJournalCreate
    customer_refund: ErpCustomerPaymentReversal | None
    memo: ErpMemo
    source_ref: str
    billing_invoice_id: str | None


def refund_policy(ledger: LedgerSettings, legal_entity_code: str) -> RefundPolicy:
    return ledger.refund_policies.get(legal_entity_code, RefundPolicy.CREDIT_MEMO_AND_REFUND)


async def payment_of_charge(
    session: AsyncSession, charge_id: str, invoice_id: str | None
) -> PaymentRow | None:
    """The payment a billing charge made: by the charge, or by the billing invoice it paid."""
    payment = await session.scalar(select(PaymentRow).where(PaymentRow.charge_ref == charge_id))
    if payment is None and invoice_id is not None:
        payment = await session.scalar(
            select(PaymentRow).where(PaymentRow.source_ref == invoice_id)
        )
    return payment


class RefundWorkflow:
    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.engine = Engine(context.sessionmaker, steps=STEPS, lease=context.settings.run_lease)

    def replays(self) -> dict[str, Replay]:
        return {WORKFLOW: Replay(resume=self.resume, discard=self.discard)}

    async def on_refunded(self, session: AsyncSession, charge: BillingCharge) -> list[str]:
        """Record each of the charge's refunds not known yet; the runs to `book` once
        committed. A charge that paid none of our payments is logged and left."""
        payment = await payment_of_charge(session, charge.id, charge.invoice_id)
        if payment is None:
            logger.warning("refunds.charge_unknown", extra={"charge": charge.id})
            return []
        runs = []
        for refund in charge.refunds:
            run_id = await self.record(session, payment, charge, refund)
            if run_id is not None:
                runs.append(run_id)
        return runs

    async def record(
        self,
        session: AsyncSession,
        payment: PaymentRow,
        charge: BillingCharge,
        refund: BillingRefund,
    ) -> str | None:
        """The refund, its credit memo and its leased run, in the caller's transaction; the
        run's id to `book` once committed, none when the refund is known already."""
        known = await session.scalar(select(RefundRow.id).where(RefundRow.source_ref == refund.id))
        if known is not None:
            return None
        entity = await get_legal_entity(session, payment.legal_entity_id)
        memo = CreditMemoRow(
            id=new_id("credit_memo"),
            invoice_id=payment.invoice_id,
            customer_id=payment.customer_id,
            legal_entity_id=payment.legal_entity_id,
            currency=payment.currency,
            amount=refund.amount,
            reason_code="refund",
            status=CreditMemoStatus.APPROVED,
            kind=CreditMemoKind.REFUND,
            note=f"Billing refund {refund.id} of charge {charge.id}"[:500],
            approval_required=False,
            requested_by=CLIENT,
        )
        row = RefundRow(
            id=new_id("refund"),
            payment_id=payment.id,
            invoice_id=payment.invoice_id,
            customer_id=payment.customer_id,
            legal_entity_id=payment.legal_entity_id,
            currency=payment.currency,
            amount=refund.amount,
            source_ref=refund.id,
            charge_ref=charge.id,
            reason=refund.reason,
            refunded_on=refund.created_at.date(),
            policy=refund_policy(self.context.settings.ledger, entity.code),
            status=RefundStatus.RECORDED,
            credit_memo_id=memo.id,
        )
        run = self.engine.new_run(
            workflow=WORKFLOW,
            subject_id=row.id,
            legal_entity_id=row.legal_entity_id,
            params={"source_ref": refund.id, "charge_ref": charge.id},
            correlation_id=None,
            client_id=CLIENT,
        )
        run.attempts = 0  # `book` counts the first attempt when it takes the leased run
        session.add(memo)
        await session.flush()
        session.add_all([row, run])
        await session.flush()
        return run.id

    async def resume(self, run_id: str) -> None:
        await self.book(run_id)

    async def discard(self, session: AsyncSession, run: WorkflowRunRow) -> None:
        """Give up a refund the ERP holds nothing of; one it booked is finished by a replay."""
        for step in ("refund_payment", "post_erp_credit_memo"):
            if await succeeded_step(session, run.id, step) is not None:
                raise PaymentInLedger(
                    f"refund {run.subject_id} is booked in the ERP ({step}); replay the run "
                    "to finish it"
                )

    async def book(self, run_id: str) -> None:
        """Carry the refund's run out; a failure is recorded on the run (and raised unless
        transient)."""
        async with self.context.sessionmaker() as session:
            plan = await self._prepare(session, run_id)
        if plan is None:
            return
        try:
            adopted = await self._adopted(plan)
            customer_refund, memo = (None, None) if adopted else await self._run_steps(plan)
        except BackendTransientError as error:
            await self.engine.defer(plan.run_id, error)
            return
        except LedgergateError as error:
            error.extensions.setdefault("refund_id", plan.refund_id)
            await self.engine.fail(plan.run_id, error)
            raise
        await self._record(plan, customer_refund, memo, adopted)

    async def _prepare(self, session: AsyncSession, run_id: str) -> RefundPlan | None:
        run = await session.get_one(WorkflowRunRow, run_id, with_for_update=True)
        refund = await session.get_one(RefundRow, run.subject_id, with_for_update=True)
        if refund.status == RefundStatus.BOOKED:
            return None
        self.engine.resume(run, correlation_id=None)
        payment = await repository.get_payment(session, refund.payment_id, for_update=True)
        async with failing(session, run, refund_id=refund.id):
            if payment.status != PaymentStatus.APPLIED:
                raise PaymentNotApplied(
                    f"payment {payment.id} is {payment.status}: its refund {refund.id} is "
                    "booked once it is applied in the ERP (replay this run then)",
                    payment_status=payment.status,
                )
            refunded = await _refunded(session, payment.id) + refund.amount
            if refunded > payment.amount:
                raise RefundExceedsPayment(
                    f"the refunds of payment {payment.id} add up to {refunded} "
                    f"{payment.currency}, more than the {payment.amount} it paid",
                    paid=payment.amount,
                    refunded=refunded,
                )
            legal_entity = await get_legal_entity(session, payment.legal_entity_id)
            posting_date = posting_date_for(legal_entity, self.context.today())
        invoice = await lookups.get_invoice(session, payment.invoice_id)
        customer = await session.get_one(CustomerRow, payment.customer_id)
        memo = await session.get_one(CreditMemoRow, refund.credit_memo_id)
        memo.posting_date = posting_date
        with_refund = refund.policy == RefundPolicy.CREDIT_MEMO_AND_REFUND
        plan = RefundPlan(
            run_id=run.id,
            refund_id=refund.id,
            company_id=legal_entity.erp_company_id,
            amount=refund.amount,
            journal=payment_journal(self.context.settings.ledger),
            customer_refund=customer_refund(
                refund.id,
                refund.amount,
                payment,
                invoice,
                customer,
                posting_date=posting_date,
                source=refund.source_ref,
            )
            if with_refund
            else None,
            memo=ErpMemo(
                credit_memo_id=memo.id,
                company_id=legal_entity.erp_company_id,
                erp_invoice_id=invoice.erp_ref or "",
                document=ErpSalesCreditMemoCreate(
                    external_document_number=memo.id,
                    customer_number=customer.erp_number,
                    currency=refund.currency,
                    posting_date=posting_date,
                    due_date=posting_date,
                    applies_to_invoice_id=invoice.erp_ref if with_refund else None,
                    lines=(_memo_line(invoice, refund, legal_entity),),
                ),
            ),
            source_ref=refund.source_ref,
            billing_invoice_id=invoice.billing_ref,
        )
        await session.commit()
        return plan

    async def _adopted(self, plan: RefundPlan) -> str | None:
        """The credit memo that paid this refund back through a billing credit note: its
        own run books it in the ERP, so this one books nothing there (never twice)."""
        if plan.billing_invoice_id is None:
            return None
        billing_invoice_id = plan.billing_invoice_id
        note = await self.engine.run(plan.run_id).step(
            "find_credit_note",
            lambda: _refunding_note(self.context, billing_invoice_id, plan.source_ref),
            request={"invoice_id": billing_invoice_id, "refund": plan.source_ref},
            backend_ref=lambda found: found,
        )
        if note is None:
            return None
        async with self.context.sessionmaker() as session:
            memo = await session.get(CreditMemoRow, note)
            if memo is None or memo.settlement != CreditSettlement.REFUND:
                raise UnknownRefundingCreditNote(
                    f"billing refund {plan.source_ref} was paid by a credit note naming "
                    f"{note}, which is no credit of ours settled by a refund",
                    credit_memo_id=note,
                )
        return note

    async def _run_steps(
        self, plan: RefundPlan
    ) -> tuple[ErpCustomerPayment | None, ErpSalesCreditMemo]:
        handle = self.engine.run(plan.run_id)
        paid_out = None
        if plan.customer_refund is not None:
            paid_out = await pay_back(
                self.context, handle, plan.company_id, plan.journal, plan.customer_refund
            )
        memo = await post_erp_memo(self.context, handle, plan.memo)
        if memo.total_including_tax != plan.amount:
            raise RefundAmountMismatch(
                f"the ERP credit memo {memo.number} credits {memo.total_including_tax} "
                f"{memo.currency} (tax included); billing refunded {plan.amount}",
                erp_total=memo.total_including_tax,
                refunded=plan.amount,
            )
        return paid_out, memo

    async def _record(
        self,
        plan: RefundPlan,
        paid_out: ErpCustomerPayment | None,
        erp_memo: ErpSalesCreditMemo | None,
        adopted: str | None,
    ) -> None:
        """The refund booked, with its own memo posted or, `adopted`, the credit memo that
        paid it back (its own memo, never sent anywhere, withdrawn)."""
        async with self.engine.transaction(plan.run_id) as session:
            refund = await session.get_one(RefundRow, plan.refund_id, with_for_update=True)
            payment = await repository.get_payment(session, refund.payment_id, for_update=True)
            memo = await session.get_one(CreditMemoRow, plan.memo.credit_memo_id)
            run = await session.get_one(WorkflowRunRow, plan.run_id)
            refunded = await _refunded(session, payment.id) + refund.amount
            refund.status = RefundStatus.BOOKED
            refund.booked_at = utcnow()
            refund.erp_refund_document_number = paid_out.document_number if paid_out else None
            if adopted is not None:
                memo.status = CREDIT_MEMO_STATUS.check(
                    CreditMemoStatus(memo.status), CreditMemoStatus.REJECTED
                )
                memo = await session.get_one(CreditMemoRow, adopted)
                refund.credit_memo_id = memo.id
            else:
                assert erp_memo is not None  # booked by this run's steps
                memo.status = CreditMemoStatus.POSTED
                memo.erp_ref = erp_memo.id
                memo.erp_document_number = erp_memo.number
                memo.erp_total_including_tax = erp_memo.total_including_tax
            clawed = await claw_back(
                session, payment.id, cause_id=refund.id, share=Share(refunded, payment.amount)
            )
            mark_succeeded(
                run,
                {
                    "refund_id": refund.id,
                    "policy": refund.policy,
                    "credit_memo_id": memo.id,
                    "erp_credit_memo_number": erp_memo.number if erp_memo else None,
                    # Booked in the ERP by the credit's own run, never by this one; the
                    # refund's own memo, never sent anywhere, withdrawn for it.
                    "adopted_credit_memo": adopted,
                    "withdrawn_credit_memo": plan.memo.credit_memo_id if adopted else None,
                    "erp_refund_document_number": refund.erp_refund_document_number,
                    "clawed_back_lines": len(clawed),
                    "clawed_back_commission": sum(line.commission_amount for line in clawed),
                },
            )
            partner_id = await customer_partner(session, refund.customer_id)
            await session.flush()
            await record(
                session,
                refund_booked(
                    refund,
                    run_id=run.id,
                    correlation_id=run.correlation_id,
                    partner_id=partner_id,
                ),
                *(
                    payment_events.clawed_back(line, correlation_id=run.correlation_id)
                    for line in clawed
                ),
            )


async def _refunding_note(context: ProcessContext, invoice_id: str, refund_id: str) -> str | None:
    """Our credit memo whose billing credit note made the refund, if one did."""
    page = await context.billing.list_credit_notes(invoice_id=invoice_id, limit=100)
    for note in page.credit_notes:
        if note.refund_id == refund_id and note.reference is not None:
            return note.reference
    return None


async def _refunded(session: AsyncSession, payment_id: str) -> int:
    """What the payment's booked refunds paid back so far."""
    total = await session.scalar(
        select(func.coalesce(func.sum(RefundRow.amount), 0)).where(
            RefundRow.payment_id == payment_id, RefundRow.status == RefundStatus.BOOKED
        )
    )
    return int(total or 0)


def _memo_line(
    invoice: InvoiceRow, refund: RefundRow, legal_entity: LegalEntityRow
) -> ErpInvoiceLine:
    """One line for the refunded amount before tax (the invoice's subtotal share of it),
    taxed like the invoice's largest line, so the ERP's total is what was refunded."""
    main = max(invoice.lines, key=lambda line: (line.amount, -line.sequence))
    net = half_up(refund.amount * invoice.subtotal, invoice.total) if invoice.total else 0
    return ErpInvoiceLine(
        sequence=1,
        description=fit(
            ErpInvoiceLine, "description", f"Refund {refund.source_ref} on {invoice.id}"
        ),
        quantity=1,
        unit_price=net,
        tax_code=legal_entity.erp_tax_code(main.tax_code),
    )
