"""Correcting a posted invoice with a credit memo: the `credit_memo_correction` workflow.

request (one transaction, the invoice locked): only a posted (or paid) invoice is
corrected. The lines credited, all that remains of every line or those asked for, get
their tax shares (`correction_lines`); the invoice's credits, support credits
included, must stay within its total. The correction is stored `requested` with its
lines, under the request's key, so a repeated request finds it. When the invoice's
credits add up to more than the approval threshold of its currency it waits for
another client with `credit_memos:approve`, as a support credit does; else it is
approved at once.

approve → prepare (one transaction: `approved`, the posting date by the closed-period
policy, a persisted run), then with no transaction open the ERP credit memo, one line
per credited line, applied to the invoice, and billing's credit note when the invoice
has a billing document (`credit_memo_steps`). Then the memo is `posted`. A transient failure
queues the run (202); a business one fails it (422), to be approved again once fixed.
Discarding a run is compensated as for a support credit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal
from core.canonical.base import fit
from core.canonical.documents import (
    CreditMemoKind,
    CreditMemoStatus,
    InvoiceStatus,
)
from core.ids import new_id
from core.models.credit_memo import CreditMemoLineRow, CreditMemoRow
from core.models.customer import CustomerRow
from core.models.invoice import InvoiceRow
from core.models.workflow_run import WorkflowRunRow
from events.attribution import customer_partner
from events.envelope import CloudEvent
from events.outbox import record
from events.schemas.credit_memo import (
    CreditMemoRequested,
    CreditMemoState,
    credit_memo_event,
)
from process_apis import credits, lookups
from process_apis.credit_memo_steps import (
    BILLING_STEP,
    ERP_STEPS,
    CreditNote,
    ErpMemo,
    issue_credit_note,
    post_erp_memo,
)
from process_apis.credit_memos import repository
from process_apis.credit_memos.correction_lines import (
    LineCorrection,
    erp_lines,
    plan_lines,
    stored,
)
from process_apis.credit_memos.errors import InvoiceNotCorrectable
from process_apis.credit_memos.issuer import Issuer, resource
from process_apis.credit_memos.issuing import (
    APPROVER_SCOPE,
    RUN_WORKFLOW,
    check_invoice_total,
    date_posting,
)
from process_apis.credit_memos.schemas import CorrectionCreate, CreditMemoResource
from process_apis.credit_memos.workflow import CreditMemoWorkflow
from process_apis.deps import ProcessContext
from process_apis.legal_entities.repository import get_legal_entity
from process_apis.runs.engine import Engine
from process_apis.runs.replay import Replay
from system_apis.billing.schemas import BillingCreditNote, BillingCreditNoteCreate
from system_apis.erp.schemas import ErpSalesCreditMemo

WORKFLOW = RUN_WORKFLOW[CreditMemoKind.CORRECTION]
STEPS = (*ERP_STEPS, BILLING_STEP)
REASON_CODE = "correction"


@dataclass(frozen=True)
class Requester:
    """Who asks for a correction: an API client (with its limits) or a CLI operator."""

    client_id: str
    correlation_id: str | None
    # `<client>:<Idempotency-Key>`: the same request again answers the same correction.
    request_key: str | None = None
    principal: Principal | None = None


@dataclass(frozen=True)
class CorrectionPlan:
    run_id: str
    erp: ErpMemo
    credit_note: CreditNote | None
    # A caller waits for the answer (not a replay): a problem it can correct is not queued.
    answered: bool

    @property
    def credit_memo_id(self) -> str:
        return self.erp.credit_memo_id


@dataclass(frozen=True)
class CorrectionOutcome:
    erp_memo: ErpSalesCreditMemo
    credit_note: BillingCreditNote | None


class CorrectionWorkflow(Issuer[CorrectionPlan, CorrectionOutcome]):
    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.engine = Engine(context.sessionmaker, steps=STEPS, lease=context.settings.run_lease)
        self.memos = CreditMemoWorkflow(context)

    def replays(self) -> dict[str, Replay]:
        # Compensated as a support credit is: withdrawn, or reversed once in the ERP.
        return {WORKFLOW: Replay(resume=self.resume, discard=self.memos.discard)}

    async def correct(
        self, invoice_id: str, data: CorrectionCreate, *, by: Requester
    ) -> CreditMemoResource:
        """Store the correction; unless it needs approval, issue it now."""
        async with self.context.sessionmaker() as session:
            found = await repository.requested_with(session, by.request_key)
            if found is not None:
                return await self.read(found)
            invoice = await lookups.get_invoice(session, invoice_id, for_update=True)
            if invoice.status not in (InvoiceStatus.POSTED, InvoiceStatus.PAID):
                raise InvoiceNotCorrectable(
                    f"invoice {invoice.id} is {invoice.status}: only a posted invoice is "
                    "corrected by a credit memo; void one that was never posted",
                    invoice_status=invoice.status,
                )
            lines = plan_lines(invoice, data.lines, await credits.line_credits(session, invoice.id))
            memo = await self._memo(session, invoice, lines, data, by)
            session.add(memo)
            await record(
                session, await _event(session, CreditMemoRequested, memo, by.correlation_id)
            )
            await session.commit()
        if memo.approval_required:
            return resource(memo, None)
        return await self.approve(memo.id, approver=by.client_id, correlation_id=by.correlation_id)

    async def _memo(
        self,
        session: AsyncSession,
        invoice: InvoiceRow,
        lines: list[LineCorrection],
        data: CorrectionCreate,
        by: Requester,
    ) -> CreditMemoRow:
        """The correction within the invoice's total and the requester's limit, with lines."""
        net, tax = sum(item.amount for item in lines), sum(item.tax_amount for item in lines)
        await check_invoice_total(session, invoice, net + tax)
        if by.principal is not None:
            by.principal.check_money_limit(
                "credit_memos:write",
                amount=net,
                currency=invoice.currency,
                approver_scope=APPROVER_SCOPE,
            )
        threshold = self.context.settings.credit_memos.approval_thresholds.get(invoice.currency)
        so_far = await repository.credited(session, invoice_id=invoice.id, case_id=None)
        return CreditMemoRow(
            id=new_id("credit_memo"),
            kind=CreditMemoKind.CORRECTION,
            invoice_id=invoice.id,
            customer_id=invoice.customer_id,
            legal_entity_id=invoice.legal_entity_id,
            currency=invoice.currency,
            amount=net,
            tax_amount=tax,
            reason_code=REASON_CODE,
            status=CreditMemoStatus.REQUESTED,
            note=data.reason,
            approval_required=threshold is None or so_far + net > threshold,
            requested_by=by.client_id,
            request_key=by.request_key,
            lines=[
                CreditMemoLineRow(
                    id=new_id("credit_memo_line"),
                    sequence=sequence,
                    invoice_line_id=item.line.id,
                    quantity=item.quantity,
                    amount=item.amount,
                    tax_amount=item.tax_amount,
                )
                for sequence, item in enumerate(lines, start=1)
            ],
        )

    async def _plan(
        self, session: AsyncSession, memo: CreditMemoRow, run: WorkflowRunRow, *, answered: bool
    ) -> CorrectionPlan:
        """The ERP memo with the corrected lines, and billing's credit note, dated now."""
        invoice = await lookups.get_invoice(session, memo.invoice_id)
        customer = await session.get_one(CustomerRow, memo.customer_id)
        legal_entity = await get_legal_entity(session, memo.legal_entity_id)
        posting_date = await date_posting(
            session, memo, run, legal_entity, today=self.context.today()
        )
        note = fit(BillingCreditNoteCreate, "memo", f"{memo.id}: {memo.note or REASON_CODE}")
        return CorrectionPlan(
            run_id=run.id,
            erp=ErpMemo.of(
                memo,
                invoice,
                customer_number=customer.erp_number,
                company_id=legal_entity.erp_company_id,
                posting_date=posting_date,
                lines=erp_lines(stored(invoice, memo), legal_entity),
            ),
            credit_note=CreditNote(memo.id, invoice.billing_ref, None, note)
            if invoice.billing_ref is not None
            else None,
            answered=answered,
        )

    async def _run_steps(self, plan: CorrectionPlan) -> CorrectionOutcome:
        """The ERP credit memo, then billing's credit note for what the ERP credited."""
        run = self.engine.run(plan.run_id)
        posted = await post_erp_memo(self.context, run, plan.erp)
        note = None
        if plan.credit_note is not None:
            note = await issue_credit_note(
                self.context, run, plan.credit_note, posted.total_including_tax
            )
        return CorrectionOutcome(posted, note)

    def _acknowledgement(self, memo: CreditMemoRow, outcome: CorrectionOutcome) -> dict[str, Any]:
        posted, note = outcome.erp_memo, outcome.credit_note
        return {
            "corrected_invoice_id": memo.invoice_id,
            "erp_credit_memo_id": posted.id,
            "erp_credit_memo_number": posted.number,
            "erp_applies_to_invoice_number": posted.applies_to_invoice_number,
            "erp_total_excluding_tax": posted.total_excluding_tax,
            "erp_total_tax": posted.total_tax,
            "erp_total_including_tax": posted.total_including_tax,
            "credited_total": memo.amount + (memo.tax_amount or 0),
            "billing_credit_note": note.id if note else None,
        }


async def _event(
    session: AsyncSession,
    kind: type[CreditMemoState],
    memo: CreditMemoRow,
    correlation_id: str | None,
) -> CloudEvent:
    """The correction's event of `kind` (`data.kind` is `correction`), for its partner."""
    partner_id = await customer_partner(session, memo.customer_id)
    return credit_memo_event(kind, memo, partner_id=partner_id, correlation_id=correlation_id)
