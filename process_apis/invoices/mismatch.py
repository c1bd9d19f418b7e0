"""An operator's two ways out of a posting whose ERP totals disagree with ours.

`accept`: the ERP's figures become the invoice's subtotal, tax and total (ours are kept
on the mismatched run with the operator and the reason), the invoice is `posted` and
the run `resolved`. The lines stay as billing issued them.

`reverse`: in a run of its own, an ERP credit memo with the invoice's lines, applied to
the mismatched document, cancels it (the ERP prices the memo as it priced the document,
so it nets it to zero; nothing is deleted). The invoice is `open` again, the mismatched
run `resolved`, and the invoice is posted anew under its next external document number,
which may end `posted`, queued, or in `posting_mismatch` again if the cause persists.
A transient ERP failure queues the reversal run; the replay worker finishes it. The
memo is posted only when its draft credits exactly the document's figures: if the
ERP's tax setup was repaired before the reversal, it would not, and the reversal fails
(`erp-reversal-inexact`) with the draft unposted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.documents import INVOICE_STATUS, InvoicePosting, InvoiceStatus
from core.errors import LedgergateError
from core.models.base import utcnow
from core.models.customer import CustomerRow
from core.models.invoice import InvoiceRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.deps import ProcessContext, Transaction
from process_apis.invoices.errors import ErpReversalInexact, InvoiceNotMismatched
from process_apis.invoices.schemas import (
    InvoiceResource,
    PostingCreate,
    PostingResult,
    PostingState,
)
from process_apis.invoices.service import get_invoice_resource
from process_apis.invoices.totals import Totals
from process_apis.invoices.workflow import (
    REVERSAL_WORKFLOW,
    WORKFLOW,
    InvoicePostingWorkflow,
    erp_lines,
)
from process_apis.legal_entities.periods import posting_date_for
from process_apis.legal_entities.repository import get_legal_entity
from process_apis.lookups import get_invoice
from process_apis.runs.engine import Engine, mark_succeeded
from process_apis.runs.replay import Replay
from process_apis.runs.repository import count_runs, latest_run
from process_apis.runs.schemas import run_url
from system_apis.erp.schemas import ErpSalesCreditMemoCreate
from system_apis.errors import BackendTransientError


@dataclass(frozen=True)
class ReversalPlan:
    run_id: str
    invoice_id: str
    company_id: str
    credit_memo: ErpSalesCreditMemoCreate
    # What the mismatched ERP document booked: what the memo must credit.
    reversed_totals: Totals


def _erp_totals(run: WorkflowRunRow) -> Totals:
    """The ERP's figures of the mismatched document, as its run recorded them."""
    result = run.result or {}
    return Totals(
        subtotal=result["erp_total_excluding_tax"],
        tax_total=result["erp_total_tax"],
        total=result["erp_total_including_tax"],
    )


async def accept_erp_totals(
    session: AsyncSession, *, invoice_id: str, reason: str, operator: str
) -> InvoiceRow:
    """Take the ERP's figures for the invoice and post it; the caller commits."""
    invoice = await get_invoice(session, invoice_id, for_update=True)
    run = await _mismatched_run(session, invoice)
    result: dict[str, Any] = dict(run.result or {})
    erp = _erp_totals(run)
    ours = Totals.of_invoice(invoice)
    invoice.subtotal, invoice.tax_total, invoice.total = erp.subtotal, erp.tax_total, erp.total
    invoice.status = INVOICE_STATUS.check(InvoiceStatus(invoice.status), InvoiceStatus.POSTED)
    result["accepted"] = {
        "by": operator,
        "reason": reason,
        "at": utcnow().isoformat(),
        "ours": ours.as_dict(),
        "erp": erp.as_dict(),
    }
    _resolve(run, result)
    return invoice


async def accept(
    transaction: Transaction, *, invoice_id: str, reason: str, operator: str
) -> InvoiceResource:
    """`accept_erp_totals` in a transaction of its own; the invoice as it is then."""
    async with transaction() as session:
        await accept_erp_totals(session, invoice_id=invoice_id, reason=reason, operator=operator)
        return await get_invoice_resource(session, invoice_id)


class PostingReversal:
    """Reverse the mismatched ERP document and post the invoice again."""

    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.engine = Engine(
            context.sessionmaker,
            steps=("create_credit_memo", "post_credit_memo"),
            lease=context.settings.run_lease,
        )

    def replays(self) -> dict[str, Replay]:
        # Nothing to compensate: the invoice keeps its mismatched document until a reversal.
        return {REVERSAL_WORKFLOW: Replay(resume=self.resume)}

    async def reverse(
        self,
        *,
        invoice_id: str,
        reason: str,
        operator: str,
        correlation_id: str | None,
        claimed_run_id: str | None = None,
    ) -> PostingResult:
        plan = await self._prepare(
            invoice_id,
            reason=reason,
            operator=operator,
            correlation_id=correlation_id,
            claimed_run_id=claimed_run_id,
        )
        try:
            await self._run_steps(plan)
        except BackendTransientError as error:
            retry_at = await self.engine.defer(plan.run_id, error)
            async with self.context.sessionmaker() as session:
                invoice = await get_invoice(session, invoice_id)
                return _pending(invoice, plan.run_id, retry_at=retry_at)
        except LedgergateError as error:
            await self.engine.fail(plan.run_id, error)
            raise
        request = await self._record(plan)
        return await InvoicePostingWorkflow(self.context).post(
            invoice_id=invoice_id,
            request=request,
            client_id=operator,
            correlation_id=correlation_id,
        )

    async def resume(self, run_id: str) -> PostingResult:
        """Finish a queued reversal (replay), then post the invoice again."""
        run = await self.engine.load(run_id)
        return await self.reverse(
            invoice_id=run.subject_id,
            reason=run.params["reason"],
            operator=run.params["operator"],
            correlation_id=run.correlation_id,
            claimed_run_id=run_id,
        )

    async def _prepare(
        self,
        invoice_id: str,
        *,
        reason: str,
        operator: str,
        correlation_id: str | None,
        claimed_run_id: str | None,
    ) -> ReversalPlan:
        async with self.context.sessionmaker() as session:
            invoice = await get_invoice(session, invoice_id, for_update=True)
            mismatched = await _mismatched_run(session, invoice)
            latest = await latest_run(session, workflow=REVERSAL_WORKFLOW, subject_id=invoice_id)
            reversals = await count_runs(
                session,
                workflow=REVERSAL_WORKFLOW,
                subject_id=invoice_id,
                status=RunStatus.SUCCEEDED,
            )
            run = self.engine.take(
                session,
                latest,
                workflow=REVERSAL_WORKFLOW,
                subject_id=invoice_id,
                legal_entity_id=invoice.legal_entity_id,
                params={"reason": reason, "operator": operator},
                correlation_id=correlation_id,
                client_id=operator,
                claimed_run_id=claimed_run_id,
            )
            legal_entity = await get_legal_entity(session, invoice.legal_entity_id)
            posting_date = posting_date_for(
                legal_entity, invoice.posting_date or invoice.invoice_date
            )
            customer = await session.get_one(CustomerRow, invoice.customer_id)
            plan = ReversalPlan(
                run_id=run.id,
                invoice_id=invoice_id,
                company_id=legal_entity.erp_company_id,
                reversed_totals=_erp_totals(mismatched),
                credit_memo=ErpSalesCreditMemoCreate(
                    external_document_number=f"{invoice_id}-R{reversals + 1}",
                    customer_number=customer.erp_number,
                    currency=invoice.currency,
                    posting_date=posting_date,
                    due_date=posting_date,
                    applies_to_invoice_id=invoice.erp_ref,
                    lines=erp_lines(invoice, legal_entity),
                ),
            )
            await session.commit()
            return plan

    async def _run_steps(self, plan: ReversalPlan) -> None:
        erp, company, run = self.context.erp, plan.company_id, self.engine.run(plan.run_id)
        draft = await run.step(
            "create_credit_memo",
            lambda: erp.create_sales_credit_memo(company, plan.credit_memo),
            request=plan.credit_memo,
            downstream_key=plan.credit_memo.external_document_number,
            backend_ref=lambda memo: memo.id,
        )
        credited = Totals(
            subtotal=draft.total_excluding_tax,
            tax_total=draft.total_tax,
            total=draft.total_including_tax,
        )
        if credited != plan.reversed_totals:
            raise ErpReversalInexact(
                f"the ERP credit memo {draft.number or draft.id} would credit {credited.total} "
                f"(tax {credited.tax_total}) against a document of "
                f"{plan.reversed_totals.total} (tax {plan.reversed_totals.tax_total})",
                credit_memo=credited.as_dict(),
                erp=plan.reversed_totals.as_dict(),
                erp_credit_memo_id=draft.id,
            )
        await run.step(
            "post_credit_memo",
            lambda: erp.post_sales_credit_memo(company, draft.id),
            request={"credit_memo_id": draft.id},
            downstream_key=plan.credit_memo.external_document_number,
            backend_ref=lambda memo: memo.number,
        )

    async def _record(self, plan: ReversalPlan) -> PostingCreate:
        """The invoice open again, both runs closed; returns the request to post it with."""
        async with self.context.sessionmaker() as session:
            invoice = await get_invoice(session, plan.invoice_id, for_update=True)
            mismatched = await _mismatched_run(session, invoice)
            reversal = await session.get_one(WorkflowRunRow, plan.run_id)
            reversed_document = {
                "erp_document_id": invoice.erp_ref,
                "erp_document_number": invoice.erp_document_number,
            }
            invoice.status = INVOICE_STATUS.check(InvoiceStatus(invoice.status), InvoiceStatus.OPEN)
            invoice.erp_ref = invoice.erp_document_number = None
            invoice.posted_at = None
            _resolve(
                mismatched,
                {
                    **(mismatched.result or {}),
                    "reversed": {"by": reversal.params["operator"], "run_id": reversal.id},
                },
            )
            mark_succeeded(
                reversal,
                {
                    **reversed_document,
                    "reason": reversal.params["reason"],
                    "erp_credit_memo_number": plan.credit_memo.external_document_number,
                },
            )
            request = PostingCreate.model_validate(mismatched.params)
            await session.commit()
            return request


async def _mismatched_run(session: AsyncSession, invoice: InvoiceRow) -> WorkflowRunRow:
    """The failed posting run that holds the invoice in `posting_mismatch`, or a 409."""
    run = await latest_run(session, workflow=WORKFLOW, subject_id=invoice.id)
    if invoice.status != InvoiceStatus.POSTING_MISMATCH or run is None:
        raise InvoiceNotMismatched(
            f"invoice {invoice.id} is {invoice.status}, not {InvoiceStatus.POSTING_MISMATCH}"
        )
    return run


def _resolve(run: WorkflowRunRow, result: dict[str, Any]) -> None:
    run.status = RunStatus.RESOLVED
    run.result = result
    run.next_attempt_at = None
    run.finished_at = utcnow()


def _pending(invoice: InvoiceRow, run_id: str, *, retry_at: datetime) -> PostingResult:
    return PostingResult(
        invoice_id=invoice.id,
        state=PostingState.PENDING_RETRY,
        run_id=run_id,
        run_url=run_url(run_id),
        posting=InvoicePosting.model_validate(invoice.posting),
        retry_at=retry_at,
    )
