"""The entries to a credit memo's workflow: the one its kind is issued by."""

from __future__ import annotations

from core.canonical.documents import CreditMemoKind
from process_apis.credit_memos import repository
from process_apis.credit_memos.corrections import CorrectionWorkflow
from process_apis.credit_memos.schemas import CreditMemoResource
from process_apis.credit_memos.workflow import CreditMemoWorkflow
from process_apis.deps import ProcessContext


async def approve(
    context: ProcessContext,
    credit_memo_id: str,
    *,
    approver: str,
    correlation_id: str | None,
    note: str | None,
) -> CreditMemoResource:
    """Approve and issue a support credit or a correction, each by its own workflow."""
    async with context.sessionmaker() as session:
        memo = await repository.get_credit_memo(session, credit_memo_id)
    workflow: CreditMemoWorkflow | CorrectionWorkflow = (
        CorrectionWorkflow(context)
        if memo.kind == CreditMemoKind.CORRECTION
        else CreditMemoWorkflow(context)
    )
    return await workflow.approve(
        credit_memo_id, approver=approver, correlation_id=correlation_id, note=note
    )
