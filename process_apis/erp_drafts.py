"""Deleting the ERP draft a failed run left: a draft is no accounting document.

An invoice posting or a credit memo run that fails after creating its ERP document
(created, not posted) leaves a draft in the ERP. When such a run is discarded, the
workflow's compensation queues an `erp_draft_cleanup` run (due at once: the replay
worker runs it, with no transaction open); when such an invoice is voided, the void run
takes the same two steps itself. Either way the steps are on record: `find_erp_draft`
(the document by its external document number, the run's key) and `delete_erp_draft`.
A draft gone already is nothing to do; a document found posted is never deleted: it is
in the ledger, and the run fails with `erp-document-posted` for an operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, LedgergateError
from core.models.base import utcnow
from core.models.workflow_run import RunStatus, StepStatus, WorkflowRunRow, WorkflowStepRow
from process_apis.deps import ProcessContext
from process_apis.runs.engine import Engine, RunHandle, fail_in_session, mark_succeeded
from process_apis.runs.replay import Replay
from system_apis.erp.port import ErpCreditMemos, ErpInvoicing
from system_apis.erp.schemas import ErpDocumentStatus, ErpSalesCreditMemo, ErpSalesInvoice
from system_apis.errors import BackendNotFound, BackendTransientError

WORKFLOW = "erp_draft_cleanup"
STEPS = ("find_erp_draft", "delete_erp_draft")


class ErpDocumentPosted(Conflict):
    slug = "erp-document-posted"
    title = "The ERP document a run left is posted, not a draft: it is not deleted"


class DraftKind(StrEnum):
    SALES_INVOICE = "sales_invoice"
    SALES_CREDIT_MEMO = "sales_credit_memo"


@dataclass(frozen=True)
class Draft:
    """Where a run may have left a draft: its kind, company and external document number."""

    kind: DraftKind
    company_id: str
    external_document_number: str


class ErpPorts(ErpInvoicing, ErpCreditMemos, Protocol):
    """The two Protocols a cleanup reads and deletes through."""


async def left_draft(
    session: AsyncSession, run_id: str, create_step: str, post_step: str
) -> str | None:
    """The external document number a run created under and did not post, if any.

    A create step that started may have left a draft even when it failed half-way; a
    post step that succeeded left a posted document, no draft.
    """
    steps = {
        step.name: step
        for step in await session.scalars(
            select(WorkflowStepRow).where(
                WorkflowStepRow.run_id == run_id,
                WorkflowStepRow.name.in_((create_step, post_step)),
            )
        )
    }
    created, posted = steps.get(create_step), steps.get(post_step)
    if created is None or (posted is not None and posted.status == StepStatus.SUCCEEDED):
        return None
    return created.downstream_key


async def remove_draft(run: RunHandle, erp: ErpPorts, draft: Draft) -> dict[str, Any]:
    """The two steps on `run`: find the document, delete it while it is a draft."""
    found: ErpSalesInvoice | ErpSalesCreditMemo | None = await run.step(
        "find_erp_draft",
        lambda: _find(erp, draft),
        request={"kind": draft.kind, "company_id": draft.company_id},
        downstream_key=draft.external_document_number,
        backend_ref=lambda document: document.id if document else None,
    )
    outcome: dict[str, Any] = {"erp_draft": draft.external_document_number}
    if found is None:
        return {**outcome, "erp_draft_deleted": None, "erp_draft_absent": True}
    if found.status != ErpDocumentStatus.DRAFT:
        raise ErpDocumentPosted(
            f"the ERP {draft.kind.value} {found.number} ({draft.external_document_number}) is "
            f"{found.status}: a posted document is corrected by accounting, not deleted",
            erp_document_number=found.number,
        )
    await run.step(
        "delete_erp_draft",
        lambda: _delete(erp, draft, found.id),
        request={"kind": draft.kind, "document_id": found.id},
        downstream_key=draft.external_document_number,
        backend_ref=lambda _: found.id,
    )
    return {**outcome, "erp_draft_deleted": found.id}


async def _find(erp: ErpPorts, draft: Draft) -> ErpSalesInvoice | ErpSalesCreditMemo | None:
    if draft.kind == DraftKind.SALES_INVOICE:
        return await erp.find_sales_invoice(draft.company_id, draft.external_document_number)
    return await erp.find_sales_credit_memo(draft.company_id, draft.external_document_number)


async def _delete(erp: ErpPorts, draft: Draft, document_id: str) -> None:
    """Delete the draft; one already gone (an earlier attempt's lost answer) is as good."""
    try:
        if draft.kind == DraftKind.SALES_INVOICE:
            await erp.delete_sales_invoice_draft(draft.company_id, document_id)
        else:
            await erp.delete_sales_credit_memo_draft(draft.company_id, document_id)
    except BackendNotFound:
        return


class ErpDraftCleanup:
    """The `erp_draft_cleanup` runs a discarded run's compensation queues."""

    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.engine = Engine(context.sessionmaker, steps=STEPS, lease=context.settings.run_lease)

    def replays(self) -> dict[str, Replay]:
        return {WORKFLOW: Replay(resume=self.resume)}

    def queue(self, session: AsyncSession, left_by: WorkflowRunRow, draft: Draft) -> None:
        """Queue the deletion (due at once) in the discard's transaction; the discarded
        run's result names the cleanup run."""
        cleanup = self.engine.new_run(
            workflow=WORKFLOW,
            subject_id=left_by.subject_id,
            legal_entity_id=left_by.legal_entity_id,
            params={
                "left_by_run_id": left_by.id,
                "kind": draft.kind.value,
                "company_id": draft.company_id,
                "external_document_number": draft.external_document_number,
            },
            correlation_id=left_by.correlation_id,
            client_id=left_by.client_id,
        )
        cleanup.status = RunStatus.PENDING_RETRY
        cleanup.next_attempt_at = utcnow()
        session.add(cleanup)
        left_by.result = {**(left_by.result or {}), "erp_draft_cleanup_run_id": cleanup.id}

    async def resume(self, run_id: str) -> None:
        async with self.context.sessionmaker() as session:
            run = await session.get_one(WorkflowRunRow, run_id, with_for_update=True)
            self.engine.resume(run, correlation_id=None)
            draft = Draft(
                kind=DraftKind(run.params["kind"]),
                company_id=str(run.params["company_id"]),
                external_document_number=str(run.params["external_document_number"]),
            )
            await session.commit()
        try:
            outcome = await remove_draft(self.engine.run(run_id), self.context.erp, draft)
        except BackendTransientError as error:
            await self.engine.defer(run_id, error)
            return
        except LedgergateError as error:
            async with self.context.sessionmaker() as session:
                await fail_in_session(session, await session.get_one(WorkflowRunRow, run_id), error)
            raise
        async with self.engine.transaction(run_id) as session:
            mark_succeeded(await session.get_one(WorkflowRunRow, run_id), outcome)
