"""Voiding an invoice before it is posted: the `invoice_void` workflow.

prepare (one transaction, the invoice locked): the invoice must be `open` (never
posted, no posting under way). It becomes `void` at once, so no posting can start
while billing is told, and a run is persisted. Then, with no transaction open,
the draft a failed posting left in the ERP (created, never posted) is deleted there
(`find_erp_draft`, `delete_erp_draft`: a draft is no accounting document), and billing
voids its own invoice when the invoice came from billing. Nothing else reaches the ERP:
nothing of the invoice is posted there. A billing outage queues the run (`202`; the
invoice is already void here, billing follows on replay). Billing refusing (it was
paid meanwhile) fails the run and hands the invoice back as `open`: a paid invoice is
posted and, if need be, corrected by a credit memo, never voided. So does an ERP
document of the posting found posted, not a draft (`409 erp-document-posted`).

After posting, an invoice is corrected by a credit memo instead
(`credit_memos/corrections.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.documents import INVOICE_STATUS, InvoiceStatus
from core.errors import LedgergateError
from core.models.invoice import InvoiceRow
from core.models.workflow_run import WorkflowRunRow
from events.attribution import customer_partner
from events.outbox import record
from events.schemas import invoice as invoice_events
from process_apis.deps import Caller, ProcessContext
from process_apis.erp_drafts import (
    Draft,
    DraftKind,
    ErpDocumentPosted,
    left_draft,
    remove_draft,
)
from process_apis.invoices.errors import BillingRefusedVoid, InvoiceNotVoidable
from process_apis.invoices.schemas import VoidCreate, VoidResult
from process_apis.invoices.workflow import WORKFLOW as POSTING_WORKFLOW
from process_apis.legal_entities.repository import get_legal_entity
from process_apis.lookups import get_invoice
from process_apis.runs.engine import Engine, mark_succeeded
from process_apis.runs.replay import Replay
from process_apis.runs.repository import latest_run
from process_apis.runs.schemas import RunRef
from system_apis.billing.schemas import BillingInvoiceStatus
from system_apis.errors import BackendBusinessError, BackendTransientError

WORKFLOW = "invoice_void"
VOID_STEP = "void_billing_invoice"
STEPS = ("find_erp_draft", "delete_erp_draft", VOID_STEP)


@dataclass(frozen=True)
class VoidPlan:
    run_id: str
    invoice_id: str
    billing_ref: str | None
    draft: Draft | None = None


class InvoiceVoidWorkflow:
    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.engine = Engine(context.sessionmaker, steps=STEPS, lease=context.settings.run_lease)

    def replays(self) -> dict[str, Replay]:
        return {WORKFLOW: Replay(resume=self.resume)}

    async def void(self, invoice_id: str, request: VoidCreate, *, caller: Caller) -> VoidResult:
        """Void the invoice here and in billing; an invoice voided already answers as it is."""
        async with self.context.sessionmaker() as session:
            invoice = await get_invoice(session, invoice_id, for_update=True)
            if invoice.status == InvoiceStatus.VOID:
                done = await latest_run(session, workflow=WORKFLOW, subject_id=invoice_id)
                if done is not None:
                    return _result(invoice_id, done, RunRef.completed(done.id), already=True)
            if invoice.status != InvoiceStatus.OPEN:
                raise InvoiceNotVoidable(
                    f"invoice {invoice_id} is {invoice.status}: only an invoice that was never "
                    "posted can be voided; correct a posted one with a credit memo",
                    invoice_status=invoice.status,
                )
            invoice.status = INVOICE_STATUS.check(InvoiceStatus.OPEN, InvoiceStatus.VOID)
            run = self.engine.new_run(
                workflow=WORKFLOW,
                subject_id=invoice_id,
                legal_entity_id=invoice.legal_entity_id,
                params=request.model_dump(mode="json"),
                correlation_id=caller.correlation_id,
                client_id=caller.client_id,
            )
            session.add(run)
            draft = await _left_draft(session, invoice)
            await session.commit()
        return await self._execute(VoidPlan(run.id, invoice_id, invoice.billing_ref, draft))

    async def resume(self, run_id: str) -> VoidResult:
        """Tell billing once more (replay of a run a billing outage queued)."""
        async with self.context.sessionmaker() as session:
            run = await session.get_one(WorkflowRunRow, run_id)
            invoice = await get_invoice(session, run.subject_id)
            self.engine.resume(run, correlation_id=run.correlation_id)
            draft = await _left_draft(session, invoice)
            await session.commit()
        return await self._execute(VoidPlan(run_id, invoice.id, invoice.billing_ref, draft))

    async def _execute(self, plan: VoidPlan) -> VoidResult:
        try:
            erp_draft = await self._run_steps(plan)
        except BackendTransientError as error:
            retry_at = await self.engine.defer(plan.run_id, error)
            async with self.context.sessionmaker() as session:
                run = await session.get_one(WorkflowRunRow, plan.run_id)
                return _result(plan.invoice_id, run, RunRef.queued(plan.run_id, retry_at))
        except ErpDocumentPosted as error:
            await self._reopen(plan)
            await self.engine.fail(plan.run_id, error)
            raise
        except BackendBusinessError as error:
            if error.backend != "billing":  # the ERP refused to delete the draft
                await self.engine.fail(plan.run_id, error)
                raise
            refused = BillingRefusedVoid(
                f"billing refused to void invoice {plan.billing_ref}; the invoice is open again",
                invoice_id=plan.invoice_id,
            )
            await self._reopen(plan)
            await self.engine.fail(plan.run_id, refused)
            raise refused from error
        except LedgergateError as error:
            await self.engine.fail(plan.run_id, error)
            raise
        async with self.engine.transaction(plan.run_id) as session:
            run = await session.get_one(WorkflowRunRow, plan.run_id)
            mark_succeeded(run, {"billing_invoice_id": plan.billing_ref, **erp_draft})
            invoice = await get_invoice(session, plan.invoice_id)
            partner_id = await customer_partner(session, invoice.customer_id)
            await record(session, invoice_events.voided(invoice, run, partner_id=partner_id))
        return _result(plan.invoice_id, run, RunRef.completed(plan.run_id))

    async def _run_steps(self, plan: VoidPlan) -> dict[str, Any]:
        """The ERP draft a failed posting left is deleted, then billing voids its invoice."""
        erp_draft: dict[str, Any] = {}
        if plan.draft is not None:
            erp_draft = await remove_draft(
                self.engine.run(plan.run_id), self.context.erp, plan.draft
            )
        if plan.billing_ref is not None:
            await self._void_in_billing(plan, plan.billing_ref)
        return erp_draft

    async def _void_in_billing(self, plan: VoidPlan, billing_ref: str) -> None:
        billing = self.context.billing
        voided = await billing.get_invoice(billing_ref)
        if voided.status != BillingInvoiceStatus.VOID:  # a replay finds its own void done
            await self.engine.run(plan.run_id).step(
                VOID_STEP,
                lambda: billing.void_invoice(billing_ref, idempotency_key=f"{plan.run_id}:void"),
                request={"billing_invoice_id": billing_ref},
                downstream_key=billing_ref,
                backend_ref=lambda invoice: invoice.id,
            )

    async def _reopen(self, plan: VoidPlan) -> None:
        """Billing keeps its invoice, so ours is open again (billing's words are on the step)."""
        async with self.context.sessionmaker.begin() as session:
            invoice = await get_invoice(session, plan.invoice_id, for_update=True)
            invoice.status = INVOICE_STATUS.check(InvoiceStatus.VOID, InvoiceStatus.OPEN)


def _result(
    invoice_id: str, run: WorkflowRunRow, ref: RunRef, *, already: bool = False
) -> VoidResult:
    return VoidResult(
        invoice_id=invoice_id,
        status=InvoiceStatus.VOID,
        reason=str(run.params.get("reason", "")),
        already_voided=already,
        run=ref,
    )


async def _left_draft(session: AsyncSession, invoice: InvoiceRow) -> Draft | None:
    """Where the invoice's latest posting run left an ERP draft, if it left one."""
    posting = await latest_run(session, workflow=POSTING_WORKFLOW, subject_id=invoice.id)
    if posting is None:
        return None
    external = await left_draft(session, posting.id, "create_document", "post_document")
    if external is None:
        return None
    legal_entity = await get_legal_entity(session, invoice.legal_entity_id)
    return Draft(DraftKind.SALES_INVOICE, legal_entity.erp_company_id, external)
