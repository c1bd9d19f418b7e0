"""Reversing an applied payment (a bounced cheque, a payment applied to the wrong invoice):
a reversing entry in the ERP and commission claw-backs, never a delete.

prepare (one transaction, the payment locked): the payment must be `applied`; the
reversal is dated today, or, in a closed period, as the legal entity's closed-period
policy says (refused, or the first day of the next open period); the run is persisted
with the reason. The steps, with no transaction open: the customer payment journal is
ensured, the reversing entry added (the payment's amount with the opposite sign, applied
to the same ERP invoice, external document number `<payment id>-R`, so a repeat finds
it instead of adding it twice) and the invoice read back for what it owes again. Then,
in one transaction, the payment is `reversed` with the reversing entry's document
number (the original stays in the ERP's customer ledger), a paid invoice is `posted`
again (owing), and each commission line the payment earned is clawed back
(`payments.clawback`). A payment whose cash was also applied to the upgrades billing
collected with its invoice (`payments.collected`) is reversed part by part: the entry
above for what its invoice took, then one per upgrade's invoice for what that took
(`reverse_payment:<payment id>-A<n>`, keyed `<payment id>-A<n>-R`), so each invoice owes
again what the payment paid of it.

A repeat of a reversed payment answers it as it is; a queued run is resumed; a payment
not applied is `409 payment-not-applied`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import partial

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.base import fit
from core.canonical.documents import INVOICE_STATUS, InvoiceStatus
from core.errors import LedgergateError
from core.models.base import utcnow
from core.models.commission_line import CommissionLineRow
from core.models.customer import CustomerRow
from core.models.payment import PaymentRow, PaymentStatus
from core.models.payment_application import PaymentApplicationRow
from core.models.workflow_run import WorkflowRunRow
from events.attribution import customer_partner
from events.outbox import record
from events.schemas import payment as payment_events
from process_apis import lookups
from process_apis.credit_memo_steps import payment_journal
from process_apis.deps import ProcessContext
from process_apis.legal_entities.periods import posting_date_for
from process_apis.legal_entities.repository import get_legal_entity
from process_apis.payments import repository
from process_apis.payments.clawback import claw_back
from process_apis.payments.errors import PaymentInLedger, PaymentNotApplied
from process_apis.payments.schemas import PaymentResource
from process_apis.payments.workflow import PaymentWorkflow
from process_apis.runs.engine import Engine, failing, mark_succeeded
from process_apis.runs.replay import Replay
from process_apis.runs.repository import latest_run, succeeded_step
from system_apis.erp.schemas import (
    ErpCustomerPayment,
    ErpCustomerPaymentReversal,
    ErpJournalCreate,
    ErpSalesInvoice,
)
from system_apis.errors import BackendTransientError

WORKFLOW = "payment_reversal"
STEPS = ("ensure_payment_journal", "reverse_payment", "read_erp_invoice")


def reversal_external_number(payment_id: str) -> str:
    """The reversing entry's external document number: the payment's id and `-R`."""
    return f"{payment_id}-R"


@dataclass(frozen=True)
class PaymentReversalPlan:
    run_id: str
    payment_id: str
    company_id: str
    erp_invoice_id: str
    journal: ErpJournalCreate
    reversal: ErpCustomerPaymentReversal
    # The parts applied to the collected upgrades' invoices: (application id, its entry).
    parts: tuple[tuple[str, ErpCustomerPaymentReversal], ...] = ()


class PaymentReversalWorkflow:
    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.engine = Engine(context.sessionmaker, steps=STEPS, lease=context.settings.run_lease)
        self.payments = PaymentWorkflow(context)

    def replays(self) -> dict[str, Replay]:
        return {WORKFLOW: Replay(resume=self.resume, discard=self.discard)}

    async def read(self, payment_id: str) -> PaymentResource:
        return await self.payments.read(payment_id, workflow=WORKFLOW)

    async def reverse(
        self,
        payment_id: str,
        *,
        reason: str,
        client_id: str | None,
        correlation_id: str | None,
        claimed_run_id: str | None = None,
    ) -> PaymentResource:
        """Reverse the applied payment in the ERP, or answer it reversed already."""
        async with self.context.sessionmaker() as session:
            plan = await self._prepare(
                session,
                payment_id,
                reason=reason,
                client_id=client_id,
                correlation_id=correlation_id,
                claimed_run_id=claimed_run_id,
            )
        if plan is None:
            return await self.read(payment_id)
        try:
            reversed_entry, invoice, parts = await self._run_steps(plan)
        except BackendTransientError as error:
            await self.engine.defer(plan.run_id, error)
            return await self.read(payment_id)
        except LedgergateError as error:
            error.extensions.setdefault("payment_id", payment_id)
            await self.engine.fail(plan.run_id, error)
            raise
        await self._record(plan, reversed_entry, invoice, parts)
        return await self.read(payment_id)

    async def resume(self, run_id: str) -> PaymentResource:
        run = await self.engine.load(run_id)
        return await self.reverse(
            run.subject_id,
            reason=str(run.params.get("reason", "")),
            client_id=run.client_id,
            correlation_id=run.correlation_id,
            claimed_run_id=run_id,
        )

    async def discard(self, session: AsyncSession, run: WorkflowRunRow) -> None:
        """Give up a reversal the ERP never booked (the payment stays applied); one booked
        is in the ledger, so its run is replayed or resolved instead."""
        if await succeeded_step(session, run.id, "reverse_payment") is not None:
            raise PaymentInLedger(
                f"the reversal of payment {run.subject_id} is booked in the ERP; replay the "
                "run to finish it"
            )

    async def _prepare(
        self,
        session: AsyncSession,
        payment_id: str,
        *,
        reason: str,
        client_id: str | None,
        correlation_id: str | None,
        claimed_run_id: str | None,
    ) -> PaymentReversalPlan | None:
        payment = await repository.get_payment(session, payment_id, for_update=True)
        if payment.status == PaymentStatus.REVERSED:
            return None
        if payment.status != PaymentStatus.APPLIED:
            raise PaymentNotApplied(
                f"payment {payment.id} is {payment.status}: only a payment applied in the ERP "
                "is reversed (a queued one is given up by discarding its run)",
                payment_status=payment.status,
            )
        if payment.amount == 0:
            raise PaymentNotApplied(
                f"payment {payment.id} moved no cash: the customer's credit balance paid the "
                "invoice, with credit memos applied in the ERP (a credit is undone by an "
                "accounting document of its own)",
                payment_status=payment.status,
            )
        run = self.engine.take(
            session,
            await latest_run(session, workflow=WORKFLOW, subject_id=payment.id),
            workflow=WORKFLOW,
            subject_id=payment.id,
            legal_entity_id=payment.legal_entity_id,
            params={"reason": reason},
            correlation_id=correlation_id,
            client_id=client_id,
            claimed_run_id=claimed_run_id,
        )
        legal_entity = await get_legal_entity(session, payment.legal_entity_id)
        async with failing(session, run, payment_id=payment.id):
            posting_date = posting_date_for(legal_entity, self.context.today())
        invoice = await lookups.get_invoice(session, payment.invoice_id)
        customer = await session.get_one(CustomerRow, payment.customer_id)
        applications = (
            await session.scalars(
                select(PaymentApplicationRow)
                .where(PaymentApplicationRow.payment_id == payment.id)
                .order_by(PaymentApplicationRow.id)
            )
        ).all()
        own = payment.amount - sum(application.amount for application in applications)
        plan = PaymentReversalPlan(
            run_id=run.id,
            payment_id=payment.id,
            company_id=legal_entity.erp_company_id,
            erp_invoice_id=invoice.erp_ref or "",
            journal=payment_journal(self.context.settings.ledger),
            reversal=_reversing_entry(
                payment,
                customer,
                external=reversal_external_number(payment.id),
                reverses=payment.erp_document_number or "",
                amount=own,
                erp_invoice_id=invoice.erp_ref or "",
                posting_date=posting_date,
                reason=reason,
            ),
            parts=tuple(
                (
                    application.id,
                    _reversing_entry(
                        payment,
                        customer,
                        external=reversal_external_number(application.id),
                        reverses=application.erp_document_number or "",
                        amount=application.amount,
                        erp_invoice_id=application.erp_invoice_id,
                        posting_date=posting_date,
                        reason=reason,
                    ),
                )
                for application in applications
            ),
        )
        await session.commit()
        return plan

    async def _run_steps(
        self, plan: PaymentReversalPlan
    ) -> tuple[ErpCustomerPayment, ErpSalesInvoice, dict[str, ErpCustomerPayment]]:
        erp, company, step = self.context.erp, plan.company_id, self.engine.run(plan.run_id).step
        journal = await step(
            "ensure_payment_journal",
            lambda: erp.ensure_customer_payment_journal(company, plan.journal),
            request=plan.journal,
            downstream_key=plan.journal.code,
            backend_ref=lambda found: found.id,
        )
        entry = await step(
            "reverse_payment",
            lambda: erp.reverse_customer_payment(company, journal.id, plan.reversal),
            request=plan.reversal,
            downstream_key=plan.reversal.external_document_number,
            backend_ref=lambda booked: booked.document_number,
        )
        parts: dict[str, ErpCustomerPayment] = {}
        for application_id, reversal in plan.parts:
            parts[application_id] = await step(
                f"reverse_payment:{application_id}",
                partial(erp.reverse_customer_payment, company, journal.id, reversal),
                request=reversal,
                downstream_key=reversal.external_document_number,
                backend_ref=lambda booked: booked.document_number,
            )
        invoice = await step(
            "read_erp_invoice",
            lambda: erp.get_sales_invoice(company, plan.erp_invoice_id),
            request={"invoice_id": plan.erp_invoice_id},
            backend_ref=lambda found: found.number,
        )
        return entry, invoice, parts

    async def _record(
        self,
        plan: PaymentReversalPlan,
        entry: ErpCustomerPayment,
        erp_invoice: ErpSalesInvoice,
        parts: dict[str, ErpCustomerPayment],
    ) -> None:
        async with self.context.sessionmaker() as session:
            payment = await repository.get_payment(session, plan.payment_id, for_update=True)
            invoice = await lookups.get_invoice(session, payment.invoice_id, for_update=True)
            run = await session.get_one(WorkflowRunRow, plan.run_id)
            payment.status = PaymentStatus.REVERSED
            payment.reversal_document_number = entry.document_number
            payment.reversal_posting_date = plan.reversal.posting_date
            payment.reversed_at = utcnow()
            for application_id, booked in parts.items():
                application = await session.get_one(PaymentApplicationRow, application_id)
                application.reversal_document_number = booked.document_number
            if invoice.status == InvoiceStatus.PAID and erp_invoice.remaining_amount > 0:
                invoice.status = INVOICE_STATUS.check(InvoiceStatus.PAID, InvoiceStatus.POSTED)
            clawed = await claw_back(session, payment.id)
            mark_succeeded(run, _acknowledgement(payment, entry, erp_invoice, clawed))
            reversed_events = payment_events.payment_reversed(
                payment,
                run,
                clawed,
                invoice_status=invoice.status,
                partner_id=await customer_partner(session, payment.customer_id),
            )
            await record(session, *reversed_events)
            await session.commit()


def _acknowledgement(
    payment: PaymentRow,
    entry: ErpCustomerPayment,
    erp_invoice: ErpSalesInvoice,
    clawed: list[CommissionLineRow],
) -> dict[str, object]:
    return {
        "erp_payment_id": entry.id,
        "document_number": entry.document_number,
        "reverses": payment.erp_document_number,
        "posting_date": entry.posting_date.isoformat() if entry.posting_date else None,
        "erp_invoice_remaining_amount": erp_invoice.remaining_amount,
        "clawed_back_lines": len(clawed),
        "clawed_back_commission": sum(line.commission_amount for line in clawed),
    }


def _reversing_entry(
    payment: PaymentRow,
    customer: CustomerRow,
    *,
    external: str,
    reverses: str,
    amount: int,
    erp_invoice_id: str,
    posting_date: date,
    reason: str,
) -> ErpCustomerPaymentReversal:
    """What an ERP customer payment `reverses` applied taken back from the same ERP
    invoice, keyed `external` (`<payment id>-R`, or `<payment id>-A<n>-R` for a part)."""
    return ErpCustomerPaymentReversal(
        external_document_number=external,
        reverses_document_number=reverses,
        customer_number=customer.erp_number,
        currency=payment.currency,
        posting_date=posting_date,
        amount=amount,
        applies_to_invoice_id=erp_invoice_id,
        description=fit(
            ErpCustomerPaymentReversal, "description", f"Reversal of {reverses}: {reason}"
        ),
    )
