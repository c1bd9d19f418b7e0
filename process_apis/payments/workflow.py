"""The payment → commission workflow: a payment applied in the ERP, rated for the partner.

A payment is recorded first (through the API, or from a billing `invoice.paid` event
by the inbox consumer). Then prepare (one transaction: checks, posting date, persisted
run) and the steps with no transaction open: the ERP's customer payment journal is
ensured and the payment applied to the posted ERP invoice (keyed by our payment id as
external document number, so a repeat finds it); the invoice is read back for what it
still owes. When the customer is attributed to a partner, the CRM is asked for the
partner's commission plan, its rate card version in force on the payment date and the
partner's eligibility per product tier (deal registration). Finally, in one
transaction, the payment is `applied`, the invoice `paid` once it owes nothing, and
one commission line per invoice line of a product is written with its lineage.

A payment billing netted with the customer's credit balance (`balance_applied`) settles
the invoice with the open credit memos that made that balance, then the cash: the ERP
invoice is first checked to owe both on the run's first attempt (`check_erp_invoice`; more is
`payment-exceeds-remaining`, nothing applied), then each memo's share applied to it
(`apply_credit_memo:<memo id>`, `process_apis.payments.balance`); memos holding less open
credit than billing took fail the run (`payment-balance-unmatched`) before the ERP is
called. A renewal billing collected with amendments' prorations settles their ERP
documents too (`process_apis.payments.collected`): each downgrade's memo applied to the
invoice, the cash to the invoice and to each upgrade's sales invoice, the amounts agreeing
to the cent before anything is applied.

A transient failure queues the run (202); a business one fails it (422). Discarding a
run gives up a payment that never reached the ERP (`void`); one applied in the ERP (its
cash, or a credit memo for it) stays (the ERP's customer ledger has it), so the discard
is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.base import fit
from core.canonical.documents import INVOICE_STATUS, InvoiceStatus
from core.errors import LedgergateError
from core.ids import new_id
from core.models.base import utcnow
from core.models.commission_line import CommissionLineRow
from core.models.customer import CustomerRow
from core.models.invoice import InvoiceRow
from core.models.payment import PaymentRow, PaymentSource, PaymentStatus
from core.models.payment_application import PaymentApplicationRow
from core.models.product import ProductRow
from core.models.workflow_run import StepStatus, WorkflowRunRow, WorkflowStepRow
from core.settings import LedgerSettings
from events.attribution import customer_partner
from events.outbox import record
from events.schemas import payment as payment_events
from process_apis import lookups
from process_apis.credit_memo_steps import payment_journal
from process_apis.deps import ProcessContext
from process_apis.errors import InvoiceNotPosted
from process_apis.legal_entities.periods import posting_date_for
from process_apis.legal_entities.repository import get_legal_entity
from process_apis.payments import repository
from process_apis.payments.balance import STEP as CREDIT_STEP
from process_apis.payments.balance import CreditToApply, credits_to_apply
from process_apis.payments.collected import CollectedDocument, collected_documents
from process_apis.payments.commissions import LineToRate, RatedLine, rate_lines
from process_apis.payments.errors import (
    InvoiceAlreadyPaid,
    PaymentBalanceUnmatched,
    PaymentCurrencyMismatch,
    PaymentExceedsRemaining,
    PaymentInLedger,
)
from process_apis.payments.schemas import CommissionLine, PaymentCreate, PaymentResource
from process_apis.runs.engine import (
    Engine,
    error_class_of,
    error_type_of,
    fail_in_session,
    mark_succeeded,
    rejects,
)
from process_apis.runs.replay import Replay
from process_apis.runs.repository import latest_run
from process_apis.runs.schemas import RunSummary, run_url
from system_apis.crm.schemas import CrmRateCardVersion, PartnerEligibility
from system_apis.erp.schemas import (
    ErpCreditMemoApplicationCreate,
    ErpCustomerPayment,
    ErpCustomerPaymentCreate,
    ErpJournalCreate,
    ErpSalesInvoice,
)
from system_apis.errors import BackendBusinessError, BackendTransientError

WORKFLOW = "payment"
STEPS = (
    "ensure_payment_journal",
    "check_erp_invoice",
    "apply_credit_memo",
    "apply_payment",
    "read_erp_invoice",
    "get_partner",
    "get_commission_plan",
    "check_eligibility",
)


@dataclass(frozen=True)
class PaymentPlan:
    run_id: str
    payment_id: str
    company_id: str
    erp_invoice_id: str
    journal: ErpJournalCreate
    payment: ErpCustomerPaymentCreate | None  # none when the balance paid it all: no cash
    cash: int
    currency: str
    paid_on: date
    invoice_total: int
    customer_id: str
    partner_id: str | None
    lines: list[LineToRate]
    credits: list[CreditToApply] = field(default_factory=list)
    # The collected amendments' documents; `payment` is then the cash the invoice takes.
    collected: list[CollectedDocument] = field(default_factory=list)
    # Whether an earlier attempt of the run started to apply anything in the ERP.
    resumed: bool = False


@dataclass(frozen=True)
class PaymentOutcome:
    applied: ErpCustomerPayment | None
    invoice: ErpSalesInvoice
    plan_code: str | None
    rated: list[RatedLine]
    # The cash applied to each collected upgrade's ERP invoice.
    applications: list[tuple[CollectedDocument, ErpCustomerPayment]] = field(default_factory=list)


def check_payable(invoice: InvoiceRow, *, currency: str) -> None:
    """A payment is taken on a posted invoice, in its currency."""
    if invoice.status == InvoiceStatus.PAID:
        raise InvoiceAlreadyPaid(f"invoice {invoice.id} is paid in full")
    if invoice.status != InvoiceStatus.POSTED:
        raise InvoiceNotPosted(
            f"invoice {invoice.id} is {invoice.status}: post it before a payment is applied"
        )
    if currency != invoice.currency:
        raise PaymentCurrencyMismatch(
            f"a payment in {currency} on an invoice in {invoice.currency}", pointer="#/currency"
        )


class PaymentWorkflow:
    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.engine = Engine(context.sessionmaker, steps=STEPS, lease=context.settings.run_lease)

    def replays(self) -> dict[str, Replay]:
        return {WORKFLOW: Replay(resume=self.resume, discard=self.discard)}

    async def read(self, payment_id: str, *, workflow: str = WORKFLOW) -> PaymentResource:
        """The payment, with the latest run of `workflow` (its application, or its reversal)."""
        async with self.context.sessionmaker() as session:
            payment = await repository.get_payment(session, payment_id)
            run = await latest_run(session, workflow=workflow, subject_id=payment.id)
            lines = (
                await session.scalars(
                    select(CommissionLineRow)
                    .where(CommissionLineRow.payment_id == payment.id)
                    .order_by(CommissionLineRow.id)
                )
            ).all()
            return PaymentResource.model_validate(
                {
                    **{name: getattr(payment, name) for name in _PAYMENT_FIELDS},
                    "refs": payment.refs,
                    "commission_lines": [CommissionLine.model_validate(line) for line in lines],
                    "last_run": RunSummary.model_validate(run) if run else None,
                    "run_url": run_url(run.id) if run else None,
                }
            )

    async def record(
        self, invoice_id: str, data: PaymentCreate, *, client_id: str, correlation_id: str | None
    ) -> PaymentResource:
        """Record a payment received against a posted invoice, and apply it."""
        async with self.context.sessionmaker() as session:
            invoice = await lookups.get_invoice(session, invoice_id)
            check_payable(invoice, currency=data.currency)
            payment = PaymentRow(
                id=new_id("payment"),
                invoice_id=invoice.id,
                customer_id=invoice.customer_id,
                legal_entity_id=invoice.legal_entity_id,
                currency=data.currency,
                amount=data.amount,
                paid_on=data.paid_on or self.context.today(),
                source=PaymentSource.DIRECT,
                reference=data.reference,
                status=PaymentStatus.RECORDED,
            )
            session.add(payment)
            await session.commit()
        return await self.apply(payment.id, client_id=client_id, correlation_id=correlation_id)

    async def apply(
        self,
        payment_id: str,
        *,
        client_id: str | None,
        correlation_id: str | None,
        claimed_run_id: str | None = None,
    ) -> PaymentResource:
        """Apply the payment in the ERP and rate its commissions, or report it applied."""
        plan = await self._prepare(
            payment_id,
            client_id=client_id,
            correlation_id=correlation_id,
            claimed_run_id=claimed_run_id,
        )
        if plan is None:
            return await self.read(payment_id)
        try:
            outcome = await self._run_steps(plan)
        except BackendTransientError as error:
            await self.engine.defer(plan.run_id, error)
            return await self.read(payment_id)
        except LedgergateError as error:
            async with self.context.sessionmaker() as session:
                run = await session.get_one(WorkflowRunRow, plan.run_id)
                await self._fail(session, run, error, answered=claimed_run_id is None)
            raise
        await self._record(plan, outcome)
        return await self.read(payment_id)

    async def resume(self, run_id: str) -> PaymentResource:
        run = await self.engine.load(run_id)
        return await self.apply(
            run.subject_id,
            client_id=run.client_id,
            correlation_id=run.correlation_id,
            claimed_run_id=run_id,
        )

    async def discard(self, session: AsyncSession, run: WorkflowRunRow) -> None:
        """Compensation: void a payment the ERP never took; an applied one cannot be undone."""
        payment = await session.get_one(PaymentRow, run.subject_id, with_for_update=True)
        if payment.status != PaymentStatus.RECORDED:
            return
        if await _in_ledger(session, run.id):
            raise PaymentInLedger(
                f"payment {payment.id} is applied in the ERP; replay the run or resolve it"
            )
        payment.status = PaymentStatus.VOID

    async def _fail(
        self, session: AsyncSession, run: WorkflowRunRow, error: Exception, *, answered: bool
    ) -> None:
        """Queue the run; or, refused to a caller who can correct it, void the payment too."""
        if rejects(error, answered=answered):
            await self.discard(session, run)
        if isinstance(error, LedgergateError):
            error.extensions.setdefault("payment_id", run.subject_id)
        payment = await session.get_one(PaymentRow, run.subject_id)
        failed = payment_events.failed(
            payment,
            run,
            error_class=error_class_of(error),
            error_type=error_type_of(error),
            partner_id=await customer_partner(session, payment.customer_id),
        )
        await record(session, failed)
        await fail_in_session(session, run, error, answered=answered)

    async def _prepare(
        self,
        payment_id: str,
        *,
        client_id: str | None,
        correlation_id: str | None,
        claimed_run_id: str | None,
    ) -> PaymentPlan | None:
        async with self.context.sessionmaker() as session:
            payment = await session.get_one(PaymentRow, payment_id, with_for_update=True)
            run = await latest_run(session, workflow=WORKFLOW, subject_id=payment.id)
            if payment.status != PaymentStatus.RECORDED:
                return None
            run = self.engine.take(
                session,
                run,
                workflow=WORKFLOW,
                subject_id=payment.id,
                legal_entity_id=payment.legal_entity_id,
                params={"source": payment.source, "source_ref": payment.source_ref},
                correlation_id=correlation_id,
                client_id=client_id,
                claimed_run_id=claimed_run_id,
            )
            invoice = await lookups.get_invoice(session, payment.invoice_id)
            customer = await session.get_one(CustomerRow, payment.customer_id)
            legal_entity = await get_legal_entity(session, payment.legal_entity_id)
            try:
                check_payable(invoice, currency=payment.currency)
                posting_date = posting_date_for(legal_entity, payment.paid_on)
            except LedgergateError as error:
                await self._fail(session, run, error, answered=claimed_run_id is None)
                raise
            product_ids = {line.product_id for line in invoice.lines if line.product_id}
            products = await session.execute(
                select(ProductRow.id, ProductRow.tier).where(ProductRow.id.in_(product_ids))
            )
            tiers: dict[str, str] = dict(products.all())
            try:
                credits = await credits_to_apply(
                    session, payment, erp_invoice_id=invoice.erp_ref or "", run_id=run.id
                )
                collected = await collected_documents(session, payment)
            except LedgergateError as error:
                await self._fail(session, run, error, answered=claimed_run_id is None)
                raise
            resumed = await _applying_started(session, run.id)
            payment.posting_date = posting_date
            plan = _plan(
                run.id,
                payment,
                invoice,
                customer,
                legal_entity.erp_company_id,
                tiers,
                posting_date=posting_date,
                ledger=self.context.settings.ledger,
                credits=credits,
                collected=collected,
                resumed=resumed,
            )
            await session.commit()
            return plan

    async def _run_steps(self, plan: PaymentPlan) -> PaymentOutcome:
        """The payment applied in the ERP, then, for a partner's customer, rated."""
        applied, invoice, applications = await self._apply_in_erp(plan)
        if plan.partner_id is None or not plan.lines or plan.payment is None:
            return PaymentOutcome(applied, invoice, None, [], applications)
        plan_code, rated = await self._rate(plan, plan.partner_id)
        return PaymentOutcome(applied, invoice, plan_code, rated, applications)

    async def _apply_in_erp(
        self, plan: PaymentPlan
    ) -> tuple[
        ErpCustomerPayment | None,
        ErpSalesInvoice,
        list[tuple[CollectedDocument, ErpCustomerPayment]],
    ]:
        """The journal ensured, the credit memos and the cash applied (to the invoice, and
        to each collected upgrade's), the invoice read back for what it owes."""
        erp, company, step = self.context.erp, plan.company_id, self.engine.run(plan.run_id).step
        journal = await step(
            "ensure_payment_journal",
            lambda: erp.ensure_customer_payment_journal(company, plan.journal),
            request=plan.journal,
            downstream_key=plan.journal.code,
            backend_ref=lambda found: found.id,
        )
        if plan.credits or plan.collected:
            await self._apply_credits(plan)
        applied = None
        if (cash := plan.payment) is not None:
            try:
                applied = await step(
                    "apply_payment",
                    lambda: erp.apply_customer_payment(company, journal.id, cash),
                    request=cash,
                    downstream_key=plan.payment_id,
                    backend_ref=lambda payment: payment.document_number,
                )
            except BackendBusinessError as error:
                owed = await erp.get_sales_invoice(company, plan.erp_invoice_id)
                if cash.amount > owed.remaining_amount:
                    raise PaymentExceedsRemaining(
                        f"the payment of {cash.amount} {cash.currency} is more than "
                        f"the {owed.remaining_amount} invoice {owed.number} still owes",
                        remaining_amount=owed.remaining_amount,
                    ) from error
                raise
        applications = []
        for document in plan.collected:
            if document.credit:
                continue
            upgrade_cash = ErpCustomerPaymentCreate(
                external_document_number=document.key,
                customer_number=cash.customer_number if cash else "",
                currency=plan.currency,
                posting_date=cash.posting_date if cash else plan.paid_on,
                amount=document.amount,
                applies_to_invoice_id=document.erp_document_id,
                description=cash.description if cash else "",
            )
            applied_to_upgrade = await step(
                document.step,
                partial(erp.apply_customer_payment, company, journal.id, upgrade_cash),
                request=upgrade_cash,
                downstream_key=document.key,
                backend_ref=lambda payment: payment.document_number,
            )
            applications.append((document, applied_to_upgrade))
        invoice = await step(
            "read_erp_invoice",
            lambda: erp.get_sales_invoice(company, plan.erp_invoice_id),
            request={"invoice_id": plan.erp_invoice_id},
            backend_ref=lambda found: found.number,
        )
        return applied, invoice, applications

    async def _apply_credits(self, plan: PaymentPlan) -> None:
        """The invoice checked to owe the cash and the credit (on the first attempt, before
        the ERP takes any of it: amounts that disagree apply nothing; a resumed run may have
        applied some, and the ERP refuses more than is owed), then each open credit memo's
        share applied to it, keyed by the memo and the invoice (a repeat sets the same)."""
        erp, company, step = self.context.erp, plan.company_id, self.engine.run(plan.run_id).step
        memos = [document for document in plan.collected if document.credit]
        pending = (
            (plan.payment.amount if plan.payment else 0)
            + sum(credit.amount for credit in plan.credits)
            + sum(document.amount for document in memos)
        )
        if not plan.resumed:
            owed = await step(
                "check_erp_invoice",
                lambda: erp.get_sales_invoice(company, plan.erp_invoice_id),
                request={"invoice_id": plan.erp_invoice_id},
                backend_ref=lambda found: found.number,
            )
            if pending > owed.remaining_amount:
                raise PaymentExceedsRemaining(
                    f"the payment of {plan.cash} {plan.currency} and the "
                    f"{pending - plan.cash} of credit it was netted with are more "
                    f"than the {owed.remaining_amount} invoice {owed.number} still owes",
                    remaining_amount=owed.remaining_amount,
                )
            if plan.collected:
                await self._check_collected(plan, pending, owed)
        # (step, ERP memo, what it applies to the invoice in all, the memo's own id)
        applications = [
            (memo.step, memo.erp_document_id, memo.amount, memo.amendment_id) for memo in memos
        ] + [
            (
                credit.step,
                credit.erp_credit_memo_id,
                credit.applied_before + credit.amount,
                credit.credit_memo_id,
            )
            for credit in plan.credits
        ]
        for name, erp_memo_id, amount, memo_id in applications:
            application = ErpCreditMemoApplicationCreate(
                credit_memo_id=erp_memo_id,
                invoice_id=plan.erp_invoice_id,
                currency=plan.currency,
                amount=amount,
            )
            await step(
                name,
                partial(erp.apply_sales_credit_memo, company, application),
                request=application,
                downstream_key=memo_id,
                backend_ref=lambda applied: applied.credit_memo_number,
            )

    async def _check_collected(
        self, plan: PaymentPlan, pending: int, owed: ErpSalesInvoice
    ) -> None:
        """With collected amendments the amounts agree to the cent: the invoice owes what
        the cash left for it and the credit pay (`pending`), each upgrade's invoice its
        total; a document that owes more than that is paid in part, never: an exception."""
        erp, company, step = self.context.erp, plan.company_id, self.engine.run(plan.run_id).step
        unpaid = owed.remaining_amount - pending
        for document in plan.collected:
            if document.credit:
                continue
            found = await step(
                document.check_step,
                partial(erp.get_sales_invoice, company, document.erp_document_id),
                request={"invoice_id": document.erp_document_id},
                backend_ref=lambda invoice: invoice.number,
            )
            if found.remaining_amount < document.amount:
                raise PaymentExceedsRemaining(
                    f"the payment of {plan.cash} {plan.currency} pays {document.amount} of "
                    f"amendment {document.amendment_id}'s invoice {found.number}, which "
                    f"still owes {found.remaining_amount}",
                    remaining_amount=found.remaining_amount,
                )
            unpaid += found.remaining_amount - document.amount
        if unpaid:
            raise PaymentBalanceUnmatched(
                f"billing collected {plan.cash} {plan.currency} in cash for invoice "
                f"{owed.number} and the amendments it collected, but their ERP documents "
                f"owe {unpaid} {plan.currency} more: the amounts disagree",
                balance_applied=pending - (plan.payment.amount if plan.payment else 0),
                unpaid=unpaid,
            )

    async def _rate(self, plan: PaymentPlan, partner_id: str) -> tuple[str, list[RatedLine]]:
        """The partner's plan, its rate card version on the payment date and the partner's
        eligibility per product tier, from the CRM; the lines rated with them."""
        crm, step = self.context.crm, self.engine.run(plan.run_id).step
        partner = await step(
            "get_partner",
            lambda: crm.get_partner(partner_id),
            request={"partner_id": partner_id},
            backend_ref=lambda found: found.commission_plan,
        )
        commission_plan = await step(
            "get_commission_plan",
            lambda: crm.get_commission_plan(partner.commission_plan),
            request={"code": partner.commission_plan},
            backend_ref=lambda found: found.code,
        )
        version: CrmRateCardVersion | None = commission_plan.version_on(plan.paid_on)
        eligibility: dict[str, PartnerEligibility] = {}
        for tier in sorted({line.product_tier for line in plan.lines}):
            eligibility[tier] = await step(
                f"check_eligibility:{tier}",
                partial(
                    crm.check_eligibility,
                    partner_id,
                    customer_id=plan.customer_id,
                    product_tier=tier,
                    on=plan.paid_on,
                ),
                request={"partner_id": partner_id, "product_tier": tier, "on": plan.paid_on},
                backend_ref=lambda answer: answer.reason.value,
            )
        rated = rate_lines(
            plan.lines,
            paid=plan.cash,
            invoice_total=plan.invoice_total,
            version=version,
            eligibility=eligibility,
        )
        return commission_plan.code, rated

    async def _record(self, plan: PaymentPlan, outcome: PaymentOutcome) -> None:
        async with self.context.sessionmaker() as session:
            payment = await session.get_one(PaymentRow, plan.payment_id, with_for_update=True)
            invoice = await lookups.get_invoice(session, payment.invoice_id, for_update=True)
            customer = await session.get_one(CustomerRow, payment.customer_id)
            run = await session.get_one(WorkflowRunRow, plan.run_id)
            payment.status = PaymentStatus.APPLIED
            if outcome.applied is not None:  # the cash; a payment all balance has none
                payment.erp_ref = outcome.applied.id
                payment.erp_document_number = outcome.applied.document_number
            payment.applied_at = utcnow()
            if outcome.invoice.remaining_amount == 0 and invoice.status == InvoiceStatus.POSTED:
                invoice.status = INVOICE_STATUS.check(InvoiceStatus.POSTED, InvoiceStatus.PAID)
            present = set(
                (
                    await session.scalars(
                        select(CommissionLineRow.invoice_line_id).where(
                            CommissionLineRow.payment_id == payment.id
                        )
                    )
                ).all()
            )
            partner_id = plan.partner_id or ""  # rated lines exist only for a partner's customer
            held_by = await repository.open_dispute_of(session, payment.id)
            earned = [
                CommissionLineRow(
                    id=new_id("commission_line"),
                    payment_id=payment.id,
                    invoice_id=invoice.id,
                    invoice_line_id=line.invoice_line_id,
                    customer_id=customer.id,
                    partner_id=partner_id,
                    legal_entity_id=payment.legal_entity_id,
                    currency=payment.currency,
                    paid_on=payment.paid_on,
                    product_id=line.product_id,
                    product_tier=line.product_tier,
                    eligible=line.eligible,
                    eligibility_reason=line.eligibility_reason,
                    deal_registration_id=line.deal_registration_id,
                    plan_code=outcome.plan_code or "",
                    rate_card_version=line.rate_card_version,
                    rate_effective_from=line.rate_effective_from,
                    rate_bps=line.rate_bps,
                    base_amount=line.base_amount,
                    commission_amount=line.commission_amount,
                    held_by=held_by,
                )
                for line in outcome.rated
                if line.invoice_line_id not in present
            ]
            session.add_all(earned)
            recorded = set(
                (
                    await session.scalars(
                        select(PaymentApplicationRow.id).where(
                            PaymentApplicationRow.payment_id == payment.id
                        )
                    )
                ).all()
            )
            session.add_all(
                PaymentApplicationRow(
                    id=document.key,
                    payment_id=payment.id,
                    amendment_id=document.amendment_id,
                    erp_invoice_id=document.erp_document_id,
                    amount=document.amount,
                    erp_ref=applied.id,
                    erp_document_number=applied.document_number,
                )
                for document, applied in outcome.applications
                if document.key not in recorded
            )
            mark_succeeded(run, _acknowledgement(outcome))
            await record(
                session,
                *payment_events.applied(payment, run, earned, partner_id=customer.partner_id),
            )
            await session.commit()


def _applies(name: str) -> bool:
    """Whether a step of the run applies something in the ERP: the cash, or a memo."""
    return name == "apply_payment" or name.startswith(("apply_payment:", f"{CREDIT_STEP}:"))


async def _applying_started(session: AsyncSession, run_id: str) -> bool:
    """Whether an attempt of the run started to apply something (whatever came of it)."""
    names = await session.scalars(
        select(WorkflowStepRow.name).where(WorkflowStepRow.run_id == run_id)
    )
    return any(_applies(name) for name in names.all())


async def _in_ledger(session: AsyncSession, run_id: str) -> bool:
    """Whether the ERP took any of the payment: its cash, or a credit memo applied for it."""
    names = await session.scalars(
        select(WorkflowStepRow.name).where(
            WorkflowStepRow.run_id == run_id, WorkflowStepRow.status == StepStatus.SUCCEEDED
        )
    )
    return any(_applies(name) for name in names.all())


def _acknowledgement(outcome: PaymentOutcome) -> dict[str, Any]:
    return {
        "erp_payment_id": outcome.applied.id if outcome.applied else None,
        "erp_document_number": outcome.applied.document_number if outcome.applied else None,
        "erp_applied_to_invoice_number": outcome.applied.applies_to_invoice_number
        if outcome.applied
        else None,
        "erp_invoice_remaining_amount": outcome.invoice.remaining_amount,
        "commission_plan": outcome.plan_code,
        "commission_total": sum(line.commission_amount for line in outcome.rated),
        "commission_lines": len(outcome.rated),
        "erp_applications": {
            document.erp_document_number: applied.document_number
            for document, applied in outcome.applications
        },
    }


_PAYMENT_FIELDS = (
    "id",
    "invoice_id",
    "customer_id",
    "legal_entity_id",
    "amount",
    "balance_applied",
    "currency",
    "paid_on",
    "source",
    "reference",
    "status",
    "posting_date",
    "erp_document_number",
    "reversal_document_number",
    "reversed_at",
    "created_at",
)


def _plan(
    run_id: str,
    payment: PaymentRow,
    invoice: InvoiceRow,
    customer: CustomerRow,
    company_id: str,
    tiers: dict[str, str],
    *,
    posting_date: date,
    ledger: LedgerSettings,
    credits: list[CreditToApply],
    collected: list[CollectedDocument],
    resumed: bool,
) -> PaymentPlan:
    """What the steps need: the ERP payment on its posting date (the cash the invoice takes:
    the collected upgrades' invoices take their totals), and the lines to rate."""
    upgrades = sum(document.amount for document in collected if not document.credit)
    return PaymentPlan(
        run_id=run_id,
        payment_id=payment.id,
        company_id=company_id,
        erp_invoice_id=invoice.erp_ref or "",
        journal=payment_journal(ledger),
        payment=ErpCustomerPaymentCreate(
            external_document_number=payment.id,
            customer_number=customer.erp_number,
            currency=payment.currency,
            posting_date=posting_date,
            amount=payment.amount - upgrades,
            applies_to_invoice_id=invoice.erp_ref or "",
            description=fit(
                ErpCustomerPaymentCreate,
                "description",
                f"Payment {payment.reference or payment.id}",
            ),
        )
        if payment.amount > 0
        else None,
        cash=payment.amount,
        currency=payment.currency,
        paid_on=payment.paid_on,
        invoice_total=invoice.total,
        customer_id=customer.id,
        partner_id=customer.partner_id,
        lines=[
            LineToRate(
                invoice_line_id=line.id,
                product_id=line.product_id,
                product_tier=tiers[line.product_id],
                amount=line.amount,
            )
            for line in invoice.lines
            if line.product_id in tiers
        ],
        credits=credits,
        collected=collected,
        resumed=resumed,
    )
