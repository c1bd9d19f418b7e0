"""What every credit memo does around its steps, support credit or correction: the cap
on the invoice's credits when requested, the approval (four eyes) and posting date in
the prepare transaction, and how a failed run leaves its memo."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.documents import CREDIT_MEMO_STATUS, CreditMemoKind, CreditMemoStatus
from core.errors import Conflict, LedgergateError
from core.models.base import utcnow
from core.models.credit_memo import CreditMemoRow
from core.models.invoice import InvoiceRow
from core.models.legal_entity import LegalEntityRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from events.attribution import customer_partner
from events.outbox import record
from events.schemas.credit_memo import CreditMemoApproved, credit_memo_event
from process_apis import credits
from process_apis.credit_memos import repository
from process_apis.credit_memos.errors import (
    CreditExceedsInvoice,
    CreditMemoNotApprovable,
    CreditSelfApproval,
)
from process_apis.deps import ProcessContext
from process_apis.legal_entities.periods import posting_date_for
from process_apis.runs.engine import Engine, fail_in_session, failing, rejects
from process_apis.runs.repository import latest_run

APPROVER_SCOPE = "credit_memos:approve"


RUN_WORKFLOW = {
    CreditMemoKind.SUPPORT: "credit_memo",
    CreditMemoKind.CORRECTION: "credit_memo_correction",
}


@dataclass(frozen=True)
class Taken:
    """A memo locked for its issue, with its run: the latest (none to take) once posted."""

    memo: CreditMemoRow
    run: WorkflowRunRow | None
    posted: bool


async def take_run(
    session: AsyncSession,
    engine: Engine,
    credit_memo_id: str,
    *,
    approver: str,
    note: str | None,
    correlation_id: str | None,
    claimed_run_id: str | None,
) -> Taken:
    """The memo approved and its issuing run taken (resumed or new), unless it is posted."""
    memo = await repository.get_credit_memo(session, credit_memo_id, for_update=True)
    workflow = RUN_WORKFLOW.get(CreditMemoKind(memo.kind))
    if workflow is None:
        raise CreditMemoNotApprovable(
            f"credit memo {memo.id} books a billing refund: the refund's run posts it",
            kind=memo.kind,
        )
    run = await latest_run(session, workflow=workflow, subject_id=memo.id)
    if memo.status == CreditMemoStatus.POSTED:
        return Taken(memo, run, posted=True)
    if approve_memo(memo, run, approver):
        partner_id = await customer_partner(session, memo.customer_id)
        approved = credit_memo_event(
            CreditMemoApproved, memo, partner_id=partner_id, correlation_id=correlation_id
        )
        await record(session, approved)
    taken = engine.take(
        session,
        run,
        workflow=workflow,
        subject_id=memo.id,
        legal_entity_id=memo.legal_entity_id,
        params={"approved_by": memo.approved_by, "approval_note": note},
        correlation_id=correlation_id,
        client_id=memo.requested_by,
        claimed_run_id=claimed_run_id,
    )
    return Taken(memo, taken, posted=False)


def approve_memo(memo: CreditMemoRow, run: WorkflowRunRow | None, approver: str) -> bool:
    """A requested memo approved (by another client than its requester when it needs
    approval; true); an approved one left as it is, to resume its run (false); anything
    else refused."""
    if run is not None and run.status == RunStatus.DISCARDED:
        raise Conflict(f"credit memo {memo.id} was given up by an operator")
    if memo.status == CreditMemoStatus.REQUESTED:
        if memo.approval_required and approver == memo.requested_by:
            raise CreditSelfApproval(
                f"{approver} requested credit memo {memo.id}: another client approves it"
            )
        memo.status = CREDIT_MEMO_STATUS.check(
            CreditMemoStatus.REQUESTED, CreditMemoStatus.APPROVED
        )
        memo.approved_by = approver
        memo.approved_at = utcnow()
        return True
    if memo.status != CreditMemoStatus.APPROVED:
        CREDIT_MEMO_STATUS.check(CreditMemoStatus(memo.status), CreditMemoStatus.ISSUED)
    return False


async def check_invoice_total(session: AsyncSession, invoice: InvoiceRow, credit: int) -> None:
    """Refuse a credit that would take the invoice's live credits over its total."""
    committed = await credits.committed_credit(session, invoice.id)
    if committed + credit > invoice.total:
        raise CreditExceedsInvoice(
            f"invoice {invoice.id} totals {invoice.total} {invoice.currency}, {committed} of it "
            f"credited already: a credit of {credit} more is too much",
            invoice_total=invoice.total,
            credited_total=committed,
            credit_total=credit,
        )


async def date_posting(
    session: AsyncSession,
    memo: CreditMemoRow,
    run: WorkflowRunRow,
    legal_entity: LegalEntityRow,
    *,
    today: date,
) -> date:
    """`today` (the gateway's UTC day), or the first day of the next open period by the
    legal entity's policy; a refusal fails the run and names the memo."""
    async with failing(session, run, credit_memo_id=memo.id):
        memo.posting_date = posting_date_for(legal_entity, today)
    return memo.posting_date


async def fail_issue(
    context: ProcessContext, run_id: str, error: LedgergateError, *, answered: bool
) -> None:
    """The run failed (or rejected: the memo is withdrawn, the caller asks anew)."""
    async with context.sessionmaker() as session:
        run = await session.get_one(WorkflowRunRow, run_id)
        if rejects(error, answered=answered):
            memo = await repository.get_credit_memo(session, run.subject_id)
            memo.status = CREDIT_MEMO_STATUS.check(
                CreditMemoStatus(memo.status), CreditMemoStatus.REJECTED
            )
        error.extensions.setdefault("credit_memo_id", run.subject_id)
        await fail_in_session(session, run, error, answered=answered)
