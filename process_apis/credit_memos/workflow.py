"""The support credit → credit memo workflow.

request (one transaction): the credit is checked against its invoice (posted, same
currency) and the client's money limit, and stored `requested`. Above the approval
threshold of its currency it waits for a client with `credit_memos:approve`; at or
under it, it is approved at once.

approve → prepare (one transaction: `approved`, posting date, persisted run), then the
steps with no transaction open:

1. the support case is read (it must be the customer's), and with `plan_downgrade` the
   customer's active entitlement for the product;
2. the ERP sales credit memo is created (keyed by our id as external document number)
   against the posted ERP invoice, and posted, which applies it to the invoice. The ERP
   is the gatekeeper of what the invoice still owes: it refuses a credit over it, a
   `credit-exceeds-remaining` problem, before anything is issued anywhere else;
3. the billing credit note for what the ERP credited (tax included) is issued on the
   invoice's billing document, found first by our id so a repeat issues nothing. An
   invoice registered in the gateway without a billing document (`billing_ref` unset:
   it was not billed by the billing engine) has no balance there to correct: the
   credit lives in the ERP alone and the step is not run;
4. the desk's service credit on the case is requested (found first by our id in its
   note) and approved; with `plan_downgrade` the entitlement moves to the lower tier.

On a paid invoice (a payment of it applied in the ERP) the request says how the credit is
settled (`settlement`). `refund`: the customer refund of the credit tax included (its tax the
invoice's main line's share) is booked as the refund workflow books one (keyed by our id,
applied to the invoice, which so owes it again), the memo is created, must total what was
paid back (else an exception, `credit-refund-mismatch`) and is posted applied to the invoice,
and billing's credit note pays it back on the charge (`refund_amount`). Billing then sends
`charge.refunded`: the refund run finds the credit note that made the refund and adopts
this memo, booking nothing in the ERP again, and claws back the commission's share.
`customer_balance`: the memo is posted open, the customer's credit in the ERP, and the
credit note credits billing's customer balance (`credit_amount`).

Finally the references are recorded and the credit memo is `posted`. A transient
failure queues the run (202); a business one fails it (422) and leaves the memo
`approved`, to be approved again (which resumes the run) once fixed.

Discarding a failed run is compensated in accounting terms: a credit never posted in
the ERP is withdrawn (`rejected`), and the draft memo the run may have left there is
deleted (`erp_draft_cleanup`, run by the replay worker); one already posted is reversed
by a reversing sales invoice for the same line (`credit_memo_reversal`, likewise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal
from core.canonical.base import fit
from core.canonical.documents import (
    CREDIT_MEMO_STATUS,
    CreditMemoKind,
    CreditMemoStatus,
    CreditSettlement,
    InvoiceStatus,
)
from core.errors import LedgergateError
from core.ids import new_id
from core.models.base import utcnow
from core.models.credit_memo import CreditMemoRow
from core.models.customer import CustomerRow
from core.models.invoice import InvoiceRow
from core.models.legal_entity import LegalEntityRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from events.attribution import customer_partner
from events.outbox import record
from events.schemas.credit_memo import (
    CreditMemoRequested,
    credit_memo_event,
)
from process_apis import lookups
from process_apis.credit_memo_steps import (
    BILLING_STEP,
    CreditNote,
    ErpMemo,
    create_erp_memo,
    customer_refund,
    issue_credit_note,
    pay_back,
    payment_journal,
    post_erp_draft,
)
from process_apis.credit_memos import correction_lines, repository
from process_apis.credit_memos.correction_lines import proportional
from process_apis.credit_memos.errors import (
    CaseMismatch,
    CreditCurrencyMismatch,
    CreditPaidBack,
    CreditRefundMismatch,
    EntitlementNotFound,
    RefundWithoutBilling,
    SettlementOnUnpaidInvoice,
    SettlementRequired,
    UnknownSupportCase,
)
from process_apis.credit_memos.issuer import Issuer, resource
from process_apis.credit_memos.issuing import (
    APPROVER_SCOPE,
    RUN_WORKFLOW,
    check_invoice_total,
    date_posting,
)
from process_apis.credit_memos.schemas import (
    CreditMemoCreate,
    CreditMemoResource,
    CreditReason,
)
from process_apis.deps import ProcessContext
from process_apis.erp_drafts import Draft, DraftKind, ErpDraftCleanup, left_draft
from process_apis.errors import InvoiceNotPosted, UnknownReference
from process_apis.legal_entities.periods import posting_date_for
from process_apis.legal_entities.repository import get_legal_entity
from process_apis.runs.engine import Engine, failing, mark_succeeded
from process_apis.runs.replay import Replay
from process_apis.runs.repository import succeeded_step
from system_apis.billing.schemas import BillingCreditNote, CreditNoteReason
from system_apis.erp.schemas import (
    ErpCustomerPayment,
    ErpCustomerPaymentReversal,
    ErpInvoiceLine,
    ErpSalesCreditMemo,
    ErpSalesInvoice,
    ErpSalesInvoiceCreate,
)
from system_apis.errors import (
    BackendNotFound,
    BackendTransientError,
)
from system_apis.support.schemas import (
    ServiceCredit,
    ServiceCreditCreate,
    ServiceCreditDecision,
    ServiceCreditOutcome,
    ServiceCreditReason,
    SupportEntitlement,
    SupportEntitlementStatus,
    SupportTier,
)

WORKFLOW = RUN_WORKFLOW[CreditMemoKind.SUPPORT]
REVERSAL_WORKFLOW = "credit_memo_reversal"
STEPS = (
    "check_case",
    "check_entitlement",
    "ensure_payment_journal",
    "refund_payment",
    "create_erp_credit_memo",
    "post_erp_credit_memo",
    "read_erp_invoice",
    BILLING_STEP,
    "request_service_credit",
    "approve_service_credit",
    "change_entitlement",
)
REVERSAL_STEPS = ("create_reversing_invoice", "post_reversing_invoice")

SUPPORT_REASON = {
    CreditReason.OUTAGE: ServiceCreditReason.OUTAGE,
    CreditReason.SLA_BREACH: ServiceCreditReason.SLA_BREACH,
    CreditReason.BILLING_ERROR: ServiceCreditReason.BILLING_ERROR,
    CreditReason.GOODWILL: ServiceCreditReason.GOODWILL,
    # The customer was billed for a tier above what it is to keep.
    CreditReason.PLAN_DOWNGRADE: ServiceCreditReason.BILLING_ERROR,
}
BILLING_REASON: dict[CreditReason, CreditNoteReason | None] = {
    CreditReason.OUTAGE: CreditNoteReason.PRODUCT_UNSATISFACTORY,
    CreditReason.SLA_BREACH: CreditNoteReason.PRODUCT_UNSATISFACTORY,
    CreditReason.BILLING_ERROR: None,
    CreditReason.GOODWILL: None,
    CreditReason.PLAN_DOWNGRADE: CreditNoteReason.ORDER_CHANGE,
}


@dataclass(frozen=True)
class CreditPlan:
    """Everything the steps need, captured in the prepare transaction."""

    run_id: str
    credit_memo_id: str
    customer_id: str
    case_id: str
    erp: ErpMemo
    credit_note: CreditNote | None
    service_credit: ServiceCreditCreate
    entitlement_product_id: str | None
    entitlement_tier: SupportTier | None
    # Settled by a refund: the customer refund, its amount the ERP memo's total once drafted.
    refund_entry: ErpCustomerPaymentReversal | None = None
    # A caller waits for the answer (not a replay): a problem it can correct is not queued.
    answered: bool = False


@dataclass(frozen=True)
class CreditOutcome:
    erp_memo: ErpSalesCreditMemo
    credit_note: BillingCreditNote | None
    service_credit: ServiceCredit
    entitlement: SupportEntitlement | None
    paid_out: ErpCustomerPayment | None = None


@dataclass(frozen=True)
class ReversalPlan:
    run_id: str
    credit_memo_id: str
    company_id: str
    document: ErpSalesInvoiceCreate


async def _check_settlement(
    session: AsyncSession, data: CreditMemoCreate, invoice: InvoiceRow, *, paid: bool
) -> None:
    """A paid invoice's credit names its settlement (a refund needs billing's charge, and
    no ERP invoice balance holds it back: the invoice's credits are capped here); an
    unpaid one's does not."""
    if not paid:
        if data.settlement is not None:
            raise SettlementOnUnpaidInvoice(
                f"invoice {invoice.id} is not paid: its credit takes no settlement",
                pointer="#/settlement",
            )
        return
    if data.settlement is None:
        raise SettlementRequired(
            f"invoice {invoice.id} is paid: say whether the credit is refunded or left to "
            "the customer's balance",
            pointer="#/settlement",
        )
    if data.settlement == CreditSettlement.REFUND and invoice.billing_ref is None:
        raise RefundWithoutBilling(
            f"invoice {invoice.id} was not billed by the billing engine: nothing pays the "
            "refund back",
            pointer="#/settlement",
        )
    await check_invoice_total(session, invoice, data.amount)


def credit_line(
    invoice: InvoiceRow, memo: CreditMemoRow, legal_entity: LegalEntityRow
) -> ErpInvoiceLine:
    """One line for the credited amount, taxed like the invoice's largest line."""
    main = max(invoice.lines, key=lambda line: (line.amount, -line.sequence))
    return ErpInvoiceLine(
        sequence=1,
        description=fit(
            ErpInvoiceLine, "description", f"Credit {memo.reason_code} on {invoice.id}"
        ),
        quantity=1,
        unit_price=memo.amount,
        tax_code=legal_entity.erp_tax_code(main.tax_code),
    )


def with_tax(invoice: InvoiceRow, memo: CreditMemoRow) -> int:
    """The credit tax included, its tax the invoice's largest line's share: what a refund
    pays back before the ERP, which must agree, drafts the memo (the invoice owes nothing
    until the refund reopens it)."""
    main = max(invoice.lines, key=lambda line: (line.amount, -line.sequence))
    tax = proportional(main.tax_amount, main.amount, memo.amount) if main.amount else 0
    return memo.amount + tax


def memo_lines(
    invoice: InvoiceRow, memo: CreditMemoRow, legal_entity: LegalEntityRow
) -> tuple[ErpInvoiceLine, ...]:
    """The ERP lines of a memo: a correction's credited lines, else one credit line."""
    if memo.kind == CreditMemoKind.CORRECTION:
        return correction_lines.erp_lines(correction_lines.stored(invoice, memo), legal_entity)
    return (credit_line(invoice, memo, legal_entity),)


class CreditMemoWorkflow(Issuer[CreditPlan, CreditOutcome]):
    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.engine = Engine(context.sessionmaker, steps=STEPS, lease=context.settings.run_lease)
        self.reversal = Engine(
            context.sessionmaker, steps=REVERSAL_STEPS, lease=context.settings.run_lease
        )
        self.drafts = ErpDraftCleanup(context)

    def replays(self) -> dict[str, Replay]:
        return {
            WORKFLOW: Replay(resume=self.resume, discard=self.discard),
            REVERSAL_WORKFLOW: Replay(resume=self.reverse),
        }

    async def request(
        self,
        data: CreditMemoCreate,
        *,
        principal: Principal,
        correlation_id: str | None,
        request_key: str | None = None,
    ) -> CreditMemoResource:
        """Store the requested credit; under the threshold of its currency, approve it now.
        A retry of a request whose answer failed (`request_key` again) reads the credit that
        request stored: its run is the operator's to replay, never a second credit."""
        async with self.context.sessionmaker() as session:
            found = await repository.requested_with(session, request_key)
            if found is not None:
                return await self.read(found)
            # Locked, so concurrent requests on the invoice add up one after the other.
            invoice = await session.get(InvoiceRow, data.invoice_id, with_for_update=True)
            if invoice is None:
                raise UnknownReference(f"no invoice {data.invoice_id}", pointer="#/invoice_id")
            if invoice.status not in (InvoiceStatus.POSTED, InvoiceStatus.PAID):
                raise InvoiceNotPosted(
                    f"invoice {invoice.id} is {invoice.status}: only a posted invoice is credited"
                )
            if data.currency != invoice.currency:
                raise CreditCurrencyMismatch(
                    f"a credit in {data.currency} on an invoice in {invoice.currency}",
                    pointer="#/currency",
                )
            payment = await repository.applied_payment(session, invoice.id)
            await _check_settlement(session, data, invoice, paid=payment is not None)
            principal.check_money_limit(
                "credit_memos:write",
                amount=data.amount,
                currency=data.currency,
                approver_scope=APPROVER_SCOPE,
            )
            threshold = self.context.settings.credit_memos.approval_thresholds.get(data.currency)
            so_far = await repository.credited(session, invoice_id=invoice.id, case_id=data.case_id)
            change = data.entitlement_change
            memo = CreditMemoRow(
                kind=CreditMemoKind.SUPPORT,
                id=new_id("credit_memo"),
                invoice_id=invoice.id,
                customer_id=invoice.customer_id,
                legal_entity_id=invoice.legal_entity_id,
                currency=data.currency,
                amount=data.amount,
                reason_code=data.reason_code.value,
                status=CreditMemoStatus.REQUESTED,
                case_id=data.case_id,
                note=data.note,
                entitlement_product_id=change.product_id if change else None,
                entitlement_tier=change.tier.value if change else None,
                settlement=data.settlement.value if data.settlement else None,
                approval_required=threshold is None or so_far + data.amount > threshold,
                requested_by=principal.client_id,
                request_key=request_key,
                lines=[],  # a support credit names no invoice line
            )
            session.add(memo)
            partner_id = await customer_partner(session, memo.customer_id)
            requested = credit_memo_event(
                CreditMemoRequested, memo, partner_id=partner_id, correlation_id=correlation_id
            )
            await record(session, requested)
            await session.commit()
        if memo.approval_required:
            return resource(memo, None)
        return await self.approve(
            memo.id, approver=principal.client_id, correlation_id=correlation_id
        )

    async def discard(self, session: AsyncSession, run: WorkflowRunRow) -> None:
        """Compensation: withdraw a credit the ERP never booked, else queue its reversal."""
        memo = await repository.get_credit_memo(session, run.subject_id, for_update=True)
        if memo.status in (CreditMemoStatus.POSTED, CreditMemoStatus.REJECTED):
            return
        if await succeeded_step(session, run.id, "refund_payment") is not None:
            raise CreditPaidBack(
                f"credit memo {memo.id} paid the customer back in the ERP; replay the run "
                "to finish it"
            )
        posted = await succeeded_step(session, run.id, "post_erp_credit_memo")
        if posted is None:
            memo.status = CREDIT_MEMO_STATUS.check(
                CreditMemoStatus(memo.status), CreditMemoStatus.REJECTED
            )
            await self._delete_left_draft(session, run, memo.legal_entity_id)
            return
        billing = await succeeded_step(session, run.id, "issue_billing_credit_note")
        reversal = self.engine.new_run(
            workflow=REVERSAL_WORKFLOW,
            subject_id=memo.id,
            legal_entity_id=memo.legal_entity_id,
            params={
                "discarded_run_id": run.id,
                "erp_credit_memo_number": posted.backend_ref,
                "billing_credit_note": billing.backend_ref if billing else None,
            },
            correlation_id=run.correlation_id,
            client_id=run.client_id,
        )
        reversal.status = RunStatus.PENDING_RETRY
        reversal.next_attempt_at = utcnow()  # due at once: the replay worker runs it
        session.add(reversal)

    async def _delete_left_draft(
        self, session: AsyncSession, run: WorkflowRunRow, legal_entity_id: str
    ) -> None:
        """Queue the deletion of the ERP draft memo the run created and never posted."""
        external = await left_draft(
            session, run.id, "create_erp_credit_memo", "post_erp_credit_memo"
        )
        if external is not None:
            legal_entity = await get_legal_entity(session, legal_entity_id)
            self.drafts.queue(
                session,
                run,
                Draft(DraftKind.SALES_CREDIT_MEMO, legal_entity.erp_company_id, external),
            )

    async def _plan(
        self, session: AsyncSession, memo: CreditMemoRow, run: WorkflowRunRow, *, answered: bool
    ) -> CreditPlan:
        """The documents each backend receives, dated in the prepare transaction."""
        invoice = await lookups.get_invoice(session, memo.invoice_id)
        customer = await session.get_one(CustomerRow, memo.customer_id)
        legal_entity = await get_legal_entity(session, memo.legal_entity_id)
        posting_date = await date_posting(
            session, memo, run, legal_entity, today=self.context.today()
        )
        reason = CreditReason(memo.reason_code)
        settlement = CreditSettlement(memo.settlement) if memo.settlement else None
        refund_entry = None
        if settlement == CreditSettlement.REFUND:
            payment = await repository.applied_payment(session, invoice.id)
            async with failing(session, run, credit_memo_id=memo.id):
                if payment is None:
                    raise SettlementOnUnpaidInvoice(
                        f"invoice {invoice.id} has no payment applied any more to refund"
                    )
            refund_entry = customer_refund(
                memo.id,
                with_tax(invoice, memo),
                payment,
                invoice,
                customer,
                posting_date=posting_date,
                source=f"credit {memo.id}",
            )
        service_note = fit(ServiceCreditCreate, "note", f"{memo.id}: {memo.note or reason.value}")
        return CreditPlan(
            run_id=run.id,
            credit_memo_id=memo.id,
            customer_id=customer.id,
            case_id=memo.case_id or "",
            erp=ErpMemo.of(
                memo,
                invoice,
                customer_number=customer.erp_number,
                company_id=legal_entity.erp_company_id,
                posting_date=posting_date,
                lines=(credit_line(invoice, memo, legal_entity),),
                applied=settlement != CreditSettlement.CUSTOMER_BALANCE,
            ),
            credit_note=CreditNote(
                memo.id, invoice.billing_ref, BILLING_REASON[reason], service_note, settlement
            )
            if invoice.billing_ref is not None
            else None,
            service_credit=ServiceCreditCreate(
                case_id=memo.case_id or "",
                customer_id=customer.id,
                invoice_id=invoice.id,
                amount=memo.amount,
                currency=memo.currency,
                reason_code=SUPPORT_REASON[reason],
                note=service_note,
            ),
            entitlement_product_id=memo.entitlement_product_id,
            entitlement_tier=SupportTier(memo.entitlement_tier) if memo.entitlement_tier else None,
            refund_entry=refund_entry,
            answered=answered,
        )

    async def _run_steps(self, plan: CreditPlan) -> CreditOutcome:
        """The support checks, the ERP credit memo, then billing's and the desk's side."""
        entitlement = await self._check_support(plan)
        run = self.engine.run(plan.run_id)
        paid_out = None
        if plan.refund_entry is not None:
            journal = payment_journal(self.context.settings.ledger)
            paid_out = await pay_back(
                self.context, run, plan.erp.company_id, journal, plan.refund_entry
            )
        draft = await create_erp_memo(self.context, run, plan.erp)
        refunded = plan.refund_entry.amount if plan.refund_entry else None
        if refunded is not None and draft.total_including_tax != refunded:
            raise CreditRefundMismatch(
                f"the ERP credit memo of {plan.credit_memo_id} totals "
                f"{draft.total_including_tax} {draft.currency} (tax included); "
                f"{refunded} was paid back",
                erp_total=draft.total_including_tax,
                refunded=refunded,
            )
        posted = await post_erp_draft(self.context, run, plan.erp, draft)
        step, support, key = run.step, self.context.support, plan.credit_memo_id
        note = None
        if plan.credit_note is not None:
            note = await issue_credit_note(
                self.context, run, plan.credit_note, posted.total_including_tax
            )
        requested = await step(
            "request_service_credit",
            lambda: self._service_credit(plan),
            request=plan.service_credit,
            downstream_key=key,
            backend_ref=lambda credit: credit.id,
        )
        # The desk keeps the decision's note: it starts with our id too, so a replay finds it.
        decision = ServiceCreditDecision(
            decision=ServiceCreditOutcome.APPROVED, note=f"{key}: credit memo posted in the ERP"
        )
        credit = await step(
            "approve_service_credit",
            lambda: support.decide_service_credit(requested.id, decision),
            request=decision,
            downstream_key=requested.id,
            backend_ref=lambda decided: decided.id,
        )
        changed = None
        if entitlement is not None and plan.entitlement_tier is not None:
            tier = plan.entitlement_tier
            changed = await step(
                "change_entitlement",
                lambda: support.change_entitlement_tier(entitlement.id, tier),
                request={"entitlement_id": entitlement.id, "tier": tier.value},
                downstream_key=entitlement.id,
                backend_ref=lambda changed: changed.id,
            )
        return CreditOutcome(posted, note, credit, changed, paid_out)

    async def _check_support(self, plan: CreditPlan) -> SupportEntitlement | None:
        """The case is the customer's; the entitlement a downgrade changes is active."""
        support, step = self.context.support, self.engine.run(plan.run_id).step
        try:
            case = await step(
                "check_case",
                lambda: support.get_case(plan.case_id),
                request={"case_id": plan.case_id},
                backend_ref=lambda found: found.id,
            )
        except BackendNotFound as error:
            raise UnknownSupportCase(
                f"the support desk has no case {plan.case_id}", pointer="#/case_id"
            ) from error
        if case.customer_id != plan.customer_id:
            raise CaseMismatch(f"support case {case.id} is not customer {plan.customer_id}'s")
        if plan.entitlement_product_id is None:
            return None
        held = await step(
            "check_entitlement",
            lambda: support.list_entitlements(plan.customer_id),
            request={"customer_id": plan.customer_id},
        )
        for entitlement in held:
            if (
                entitlement.product_id == plan.entitlement_product_id
                and entitlement.status == SupportEntitlementStatus.ACTIVE
            ):
                return entitlement
        raise EntitlementNotFound(
            f"customer {plan.customer_id} holds no active entitlement for "
            f"{plan.entitlement_product_id}"
        )

    async def _service_credit(self, plan: CreditPlan) -> ServiceCredit:
        """The desk's service credit for this memo (its note starts with our id), or a new one."""
        support = self.context.support
        for credit in await support.list_service_credits(case_id=plan.case_id):
            if (credit.note or "").startswith(f"{plan.credit_memo_id}:"):
                return credit
        return await support.request_service_credit(
            plan.service_credit, idempotency_key=f"service-credit-{plan.credit_memo_id}"
        )

    def _keep(self, memo: CreditMemoRow, outcome: CreditOutcome) -> None:
        memo.support_ref = outcome.service_credit.id

    def _acknowledgement(self, memo: CreditMemoRow, outcome: CreditOutcome) -> dict[str, Any]:
        erp_memo = outcome.erp_memo
        return {
            "erp_credit_memo_id": erp_memo.id,
            "erp_credit_memo_number": erp_memo.number,
            "erp_applies_to_invoice_number": erp_memo.applies_to_invoice_number,
            "erp_total_including_tax": erp_memo.total_including_tax,
            "billing_credit_note": outcome.credit_note.id if outcome.credit_note else None,
            "billing_skipped": None
            if outcome.credit_note
            else "the invoice has no billing document: the credit is the ERP's alone",
            "service_credit": outcome.service_credit.id,
            "service_credit_status": outcome.service_credit.status.value,
            "entitlement": outcome.entitlement.id if outcome.entitlement else None,
            "entitlement_tier": outcome.entitlement.tier.value if outcome.entitlement else None,
            "settlement": memo.settlement,
            "erp_refund_document_number": outcome.paid_out.document_number
            if outcome.paid_out
            else None,
        }

    # --- the reversal of a discarded, already posted credit ---------------------------

    async def reverse(self, run_id: str) -> None:
        """Book a reversing sales invoice for the credit, then withdraw the credit memo."""
        async with self.context.sessionmaker() as session:
            run = await session.get_one(WorkflowRunRow, run_id, with_for_update=True)
            memo = await repository.get_credit_memo(session, run.subject_id, for_update=True)
            self.reversal.resume(run, correlation_id=None)
            invoice = await lookups.get_invoice(session, memo.invoice_id)
            customer = await session.get_one(CustomerRow, memo.customer_id)
            legal_entity = await get_legal_entity(session, memo.legal_entity_id)
            async with failing(session, run):
                posting_date = posting_date_for(legal_entity, self.context.today())
            plan = ReversalPlan(
                run_id=run.id,
                credit_memo_id=memo.id,
                company_id=legal_entity.erp_company_id,
                document=ErpSalesInvoiceCreate(
                    external_document_number=f"{memo.id}-R",
                    customer_number=customer.erp_number,
                    currency=memo.currency,
                    posting_date=posting_date,
                    due_date=posting_date,
                    lines=memo_lines(invoice, memo, legal_entity),
                ),
            )
            await session.commit()
        try:
            document = await self._reverse_steps(plan)
        except BackendTransientError as error:
            await self.reversal.defer(plan.run_id, error)
            return
        except LedgergateError as error:
            await self.reversal.fail(plan.run_id, error)
            raise
        async with self.context.sessionmaker() as session:
            memo = await repository.get_credit_memo(session, plan.credit_memo_id, for_update=True)
            run = await session.get_one(WorkflowRunRow, plan.run_id)
            memo.status = CREDIT_MEMO_STATUS.check(
                CreditMemoStatus(memo.status), CreditMemoStatus.REJECTED
            )
            mark_succeeded(
                run,
                {
                    "reversing_invoice_id": document.id,
                    "reversing_invoice_number": document.number,
                    "reversed_total_including_tax": document.total_including_tax,
                    "reversing_posting_date": plan.document.posting_date.isoformat(),
                    "currency": plan.document.currency,
                    # The billing port cannot void a credit note: finance settles it there.
                    "billing_credit_note_kept": run.params.get("billing_credit_note"),
                },
            )
            await session.commit()

    async def _reverse_steps(self, plan: ReversalPlan) -> ErpSalesInvoice:
        erp, company, key = (
            self.context.erp,
            plan.company_id,
            plan.document.external_document_number,
        )
        handle = self.reversal.run(plan.run_id)
        draft = await handle.step(
            "create_reversing_invoice",
            lambda: erp.create_sales_invoice(company, plan.document),
            request=plan.document,
            downstream_key=key,
            backend_ref=lambda document: document.id,
        )
        return await handle.step(
            "post_reversing_invoice",
            lambda: erp.post_sales_invoice(company, draft.id),
            request={"document_id": draft.id},
            downstream_key=key,
            backend_ref=lambda document: document.number,
        )
