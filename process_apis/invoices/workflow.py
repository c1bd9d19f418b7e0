"""The invoice → ERP posting workflow.

prepare (one transaction): the invoice moves `open → posting`, the posting date is
checked against the legal entity's accounting periods (a closed period is refused
or rolled to the next open period, by policy) and the run is persisted, committed with
the first step's start when a caller waits. Once the invoice's row is locked, its latest
run, its customer, its reversals and its legal entity are read in one statement, and the
invoice and the run are written by SQL Core statements, not the ORM's flush (`preparing`).
Then, with no transaction open, the steps: check tax codes, upsert the ERP customer, create
the sales invoice (keyed by our invoice id as external document number, so a repeat finds the
existing document) and post it. Finally the acknowledgement is recorded and the invoice
is `posted`, by SQL Core statements on a connection: no ORM session in that closing
transaction, which the request's `Idempotency-Key` completion joins.

Round trips are spared where nothing can be lost by it. A step's success is written
with the next step's start (the engine holds outcomes). The company's tax groups come
from a short-lived per-process cache when it holds every code the invoice uses; the legal
entity with the periods deciding the posting date and the mappings of the invoice's tax
codes is read as it is now, in that statement (`legal_entities.snapshot`). On a run's first attempt,
a customer whose ERP id we hold and whose latest sync succeeded is not looked up again (a
retry upserts it). The document is not looked up before
its creation when no run ever posted the invoice before: that first attempt creates,
posts and reads it back in one call (`post_new_sales_invoice`: Business Central's
`$batch` of the three), `post_document` recorded from its answer as bulk work's is; every
retry looks the document up and creates and posts it step by step, so nothing is re-sent
unchecked.

A transient failure queues the run (`pending_retry`) and the caller gets 202; a
business failure records a `failed` run and returns the invoice to `open`. A posted
document whose subtotal, tax or total differs from ours by more than the currency's
tolerance (`ledger.totals_tolerance`) is a failed run too (`erp-totals-mismatch`, 502):
the invoice keeps the ERP document and waits in `posting_mismatch` for an operator
(`process_apis.invoices.mismatch`). After a reversal the invoice is posted again under
the next external document number (`<invoice id>-<n>`), as the reversed one stays in the
ERP.
Bulk work (`process_apis.posting_batches`) runs the same steps for many invoices at
once and hands the document to a `BulkDocuments` call: on a run's first attempt the
`create_document` step (persisted, as ever, before the call) is answered by one bulk
call to the ERP that creates, posts and reads back many documents (Business Central's
`$batch` and one read after it), so `post_document` is recorded from that answer. A retry looks its
document up first and sends it in the bulk request only when the ERP does not hold it.
Discarding a run from the exception queue opens the invoice again and has the draft it
left in the ERP (created, never posted) deleted there (`process_apis.erp_drafts`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, cached_property, partial
from typing import Any, Protocol

from sqlalchemy import Update, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from core.auth import Principal
from core.canonical.base import fit
from core.canonical.documents import INVOICE_STATUS, InvoicePosting, InvoiceStatus
from core.db import table_of
from core.errors import ErrorClass, LedgergateError
from core.folded import StaleWrite, Unled, Write
from core.models.base import utcnow
from core.models.customer import CustomerRow
from core.models.invoice import InvoiceRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from core.versioned import leave_written, set_committed
from events.attribution import customer_partner
from events.outbox import record, recording
from events.schemas import invoice as invoice_events
from process_apis.deps import ProcessContext
from process_apis.erp_drafts import Draft, DraftKind, ErpDraftCleanup, left_draft
from process_apis.idempotency import Closing, Opening, Unsent, send_unsent
from process_apis.invoices.deferral import defer_served_lines
from process_apis.invoices.errors import (
    ErpTotalsMismatch,
    InvoiceNotMismatched,
    UnknownTaxCode,
)
from process_apis.invoices.preparing import AfterLock, posting_write, read_after_lock
from process_apis.invoices.schemas import PostingCreate, PostingResult, PostingState
from process_apis.invoices.totals import Totals, totals_mismatch
from process_apis.legal_entities.periods import posting_date_for
from process_apis.legal_entities.repository import get_legal_entity
from process_apis.lookups import get_invoice, lock_invoice
from process_apis.runs.engine import (
    CLOSED_COLUMNS,
    Engine,
    RunHandle,
    attach_run,
    close_failed,
    error_class_of,
    error_type_of,
    fail_in_session,
    mark_succeeded,
)
from process_apis.runs.replay import Replay
from process_apis.runs.repository import run_writes
from process_apis.runs.schemas import run_url
from system_apis.erp.routing import connection_known
from system_apis.erp.schemas import (
    ErpCustomerUpsert,
    ErpDocumentStatus,
    ErpInvoiceLine,
    ErpSalesInvoice,
    ErpSalesInvoiceCreate,
)
from system_apis.errors import BackendContractError, BackendTransientError

BulkDocuments = Callable[[str, ErpSalesInvoiceCreate], Awaitable[ErpSalesInvoice]]
"""Creates and posts a run's new document (by run id) within a bulk request to the ERP."""

WORKFLOW = "invoice_posting"
# An operator's reversal of a mismatched ERP document (`process_apis.invoices.mismatch`).
REVERSAL_WORKFLOW = "invoice_posting_reversal"
STEPS = ("check_tax_codes", "upsert_customer", "create_document", "post_document")
# The customer sync workflow's name: a posting reads its runs, never its code.
CUSTOMER_SYNC_WORKFLOW = "customer_sync"
INVOICES = table_of(InvoiceRow)
CUSTOMERS = table_of(CustomerRow)

# Built once (each execution hits its memoized cache key and compiled form).
_SET_CUSTOMER_ERP_REF = (
    update(CUSTOMERS)
    .where(CUSTOMERS.c.id == bindparam("customer_id"), CUSTOMERS.c.erp_ref.is_(None))
    .values(erp_ref=bindparam("erp_ref", type_=CUSTOMERS.c.erp_ref.type))
)


@dataclass(frozen=True)
class PostingPlan:
    """Everything the steps need, captured in the prepare transaction."""

    run_id: str
    # The run and the invoice as the prepare transaction left them: the record step writes
    # them without a reload.
    run: WorkflowRunRow
    invoice: InvoiceRow
    invoice_id: str
    company_id: str
    customer_id: str
    customer: ErpCustomerUpsert
    document: ErpSalesInvoiceCreate
    totals: Totals
    # The difference per amount the currency allows between the ERP's totals and ours.
    tolerance: int
    # The partner the invoice's customer is attributed to (`events.attribution`).
    partner_id: str | None = None
    # The customer's ERP id, when it may stand for the upsert (see the module docstring).
    known_erp_customer_id: str | None = None
    # No run of this workflow ever had the invoice before: the ERP cannot hold it yet.
    first_run: bool = False
    # The run's lease as its taking set it, so its first step need not renew it.
    leased_until: datetime | None = None
    # The run's correlation id, which bulk work carries into each run's own steps.
    correlation_id: str | None = None
    # The legal entity's ERP connection, read with it: the steps' calls go there
    # (`system_apis.erp.routing`).
    erp_connection: str | None = None


def erp_document_reference(invoice_id: str, reversals: int) -> str:
    """The external document number of the invoice's posting after `reversals` reversals."""
    return invoice_id if reversals == 0 else f"{invoice_id}-{reversals}"


class InvoicePostingWorkflow:
    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.engine = Engine(
            context.sessionmaker,
            steps=STEPS,
            lease=context.settings.run_lease,
            hold_outcomes=True,
            asynchronous_step_starts=True,
        )

    @cached_property
    def drafts(self) -> ErpDraftCleanup:
        """The cleanup of a discarded run's draft (made when a discard needs it, not per
        posting)."""
        return ErpDraftCleanup(self.context)

    def replays(self) -> dict[str, Replay]:
        return {WORKFLOW: Replay(resume=self.resume, discard=self.discard)}

    async def post(
        self,
        *,
        invoice_id: str,
        request: PostingCreate,
        client_id: str,
        correlation_id: str | None,
        principal: Principal | None = None,
        claimed_run_id: str | None = None,
        opening: Opening | None = None,
        closing: Closing | None = None,
    ) -> PostingResult:
        """Post the invoice, or report the posting it already has.

        `principal` is the caller whose money limit for `invoices:post` applies; replays
        pass none and name the run they have claimed from the queue.

        The prepare transaction is committed by the first step's start, with it (see
        `process_apis.runs.engine`): before any backend call, in one commit. With `opening`
        the prepare runs in the transaction holding the request's `Idempotency-Key` claim,
        so the claim commits with it (see `process_apis.idempotency.Opening`), or is given
        back to `opening` when the invoice was posted before (the prepare wrote nothing but
        the claim); a claim `opening` hands over unsent goes with the invoice's lock. With
        `closing` the transaction that records the posted document (a connection's, see
        `_record`) is handed over uncommitted, for the request's `Idempotency-Key` completion
        to join (no backend call follows it). A lead that claimed nothing (`Unled`) gives the
        session back to `opening` too: the key is judged in its transaction.
        """
        lead = opening.take_along() if opening is not None else None
        claim = opening.take() if opening is not None else None
        session = claim or self.context.sessionmaker()
        handed_over = False
        try:
            prepared = await self._prepare(
                session,
                invoice_id,
                request=request,
                client_id=client_id,
                correlation_id=correlation_id,
                principal=principal,
                claimed_run_id=claimed_run_id,
                lead=lead,
            )
            if isinstance(prepared, PostingResult):
                if opening is not None and claim is not None:
                    opening.hand_over(session)  # given back: it holds nothing but the claim
                    handed_over = True
                return prepared
            return await self.execute(prepared, opening=session, closing=closing)
        except Unled:
            if opening is not None and claim is not None:
                opening.hand_over(session)  # given back for the key to be judged in it
                handed_over = True
            raise
        finally:
            if not handed_over:
                await session.close()

    async def resume(self, run_id: str) -> PostingResult:
        """Run a run claimed from the exception queue once more (replay)."""
        prepared = await self.prepare_resume(run_id)
        if isinstance(prepared, PostingResult):
            return prepared
        return await self.execute(prepared)

    async def prepare_resume(self, run_id: str) -> PostingPlan | PostingResult:
        """Take a run claimed from the exception queue again: the plan to `execute`, or
        the posting the invoice already has. A refusal fails the run and is raised."""
        async with self.context.sessionmaker() as session:
            run = await session.get_one(WorkflowRunRow, run_id)
            invoice = await get_invoice(session, run.subject_id)
            if invoice.status == InvoiceStatus.POSTING_MISMATCH:
                # Posting again would find the same document: an operator decides instead.
                run.status, run.next_attempt_at = RunStatus.FAILED, None
                await session.commit()
                raise InvoiceNotMismatched(
                    f"invoice {invoice.id} awaits an operator's decision on the ERP's totals: "
                    "accept them or reverse the ERP document"
                )
        return await self._prepare_committed(
            run.subject_id,
            request=PostingCreate.model_validate(run.params),
            client_id=run.client_id or "replay",
            correlation_id=run.correlation_id,
            principal=None,
            claimed_run_id=run_id,
        )

    async def discard(self, session: AsyncSession, run: WorkflowRunRow) -> None:
        """Compensation when an operator gives a posting up: the invoice is open again, and
        a draft the run left in the ERP is deleted there (`process_apis.erp_drafts`)."""
        invoice = await get_invoice(session, run.subject_id, for_update=True)
        if invoice.status == InvoiceStatus.POSTING:
            invoice.status = InvoiceStatus.OPEN
        external = await left_draft(session, run.id, "create_document", "post_document")
        if external is not None:
            legal_entity = await get_legal_entity(session, invoice.legal_entity_id)
            self.drafts.queue(
                session,
                run,
                Draft(DraftKind.SALES_INVOICE, legal_entity.erp_company_id, external),
            )

    async def _prepare_committed(
        self,
        invoice_id: str,
        *,
        request: PostingCreate,
        client_id: str,
        correlation_id: str | None,
        principal: Principal | None,
        claimed_run_id: str | None,
    ) -> PostingPlan | PostingResult:
        """`_prepare` in a transaction of its own, committed (its held writes with it)."""
        async with self.context.sessionmaker() as session:
            prepared = await self._prepare(
                session,
                invoice_id,
                request=request,
                client_id=client_id,
                correlation_id=correlation_id,
                principal=principal,
                claimed_run_id=claimed_run_id,
            )
            if isinstance(prepared, PostingPlan):
                await self.engine.write_held(session, prepared.run_id)
            await session.commit()
            return prepared

    async def _prepare(
        self,
        session: AsyncSession,
        invoice_id: str,
        *,
        request: PostingCreate,
        client_id: str,
        correlation_id: str | None,
        principal: Principal | None,
        claimed_run_id: str | None,
        lead: Write | None = None,
    ) -> PostingPlan | PostingResult:
        """Take the invoice's posting run in `session`, left uncommitted (a refusal fails the
        run, committed, and is raised): the plan, or the posting the invoice already has.
        `lead`: a write sent with the invoice's lock (`lookups.lock_invoice`).
        The invoice's and the run's writes are held in `session` (`Engine.hold`) for the
        engine's next write in it: the first step's start, folded with them. Its reads are
        SQL Core on the session's connection: the invoice, the customer and the run are
        detached rows, added to the session only when a refusal is recorded there."""
        connection = await session.connection()
        invoice = await lock_invoice(connection, invoice_id, lead=lead)
        if principal is not None:
            principal.check_money_limit(
                "invoices:post", amount=invoice.total, currency=invoice.currency
            )
        requested = request.posting_date or invoice.invoice_date
        read = await read_after_lock(
            connection,
            invoice,
            on=requested,
            workflow=WORKFLOW,
            reversal_workflow=REVERSAL_WORKFLOW,
            sync_workflow=CUSTOMER_SYNC_WORKFLOW,
        )
        run = read.run
        if invoice.status in (InvoiceStatus.POSTED, InvoiceStatus.PAID) and run is not None:
            return _result(invoice, run, PostingState.POSTED, already_posted=True)
        if invoice.status != InvoiceStatus.POSTING:
            INVOICE_STATUS.check(InvoiceStatus(invoice.status), InvoiceStatus.POSTING)
        first_run = run is None
        run = self.engine.take(
            None,  # written below by SQL Core, with the invoice
            run,
            workflow=WORKFLOW,
            subject_id=invoice_id,
            legal_entity_id=invoice.legal_entity_id,
            params=request.model_dump(mode="json"),
            correlation_id=correlation_id,
            client_id=client_id,
            claimed_run_id=claimed_run_id,
        )

        legal_entity = read.legal_entity
        try:
            posting_date = posting_date_for(legal_entity, requested)
        except LedgergateError as error:
            session.add_all((invoice, run))
            await self._fail_in_session(session, invoice, run, error)
            raise

        invoice.status = InvoiceStatus.POSTING
        invoice.posting_date = posting_date
        deferred = defer_served_lines(invoice, legal_entity.code, self.context.settings.revenue)
        self.engine.hold(session, [await posting_write(connection, invoice, deferred)])
        await self.engine.hold_taken(session, run)
        tolerances = self.context.settings.ledger.totals_tolerance
        return _plan(
            run,
            invoice,
            read,
            posting_date,
            first_run=first_run,
            tolerance=tolerances.get(invoice.currency, 0),
        )

    async def prepare(
        self, invoice_id: str, *, client_id: str, correlation_id: str | None
    ) -> PostingPlan | PostingResult:
        """Take the invoice's posting run as bulk work (no caller waits): the plan to
        `execute`, or the posting it already has. A refusal fails the run and is raised."""
        return await self._prepare_committed(
            invoice_id,
            request=PostingCreate(),
            client_id=client_id,
            correlation_id=correlation_id,
            principal=None,
            claimed_run_id=None,
        )

    async def execute(
        self,
        plan: PostingPlan,
        *,
        bulk: BulkDocuments | None = None,
        opening: AsyncSession | None = None,
        closing: Closing | None = None,
    ) -> PostingResult:
        """The plan's steps and their outcome; with `bulk`, a first attempt's document is
        created and posted by bulk request (see the module docstring). `opening`: the
        session that prepared the plan, uncommitted; the first step's start commits it
        (the document's creation is always a step of its own without `bulk`). `closing`:
        where the posted document's record is handed over uncommitted (see `post`)."""
        assert bulk is None or opening is None, "a bulk document may be recorded without a call"
        try:
            with _routed(plan):
                erp_customer_id, document = await self._run_steps(plan, bulk, opening)
        except BackendTransientError as error:
            retry_at = await self.engine.defer(plan.run_id, error)
            async with self.context.sessionmaker() as session:
                invoice = await get_invoice(session, plan.invoice_id)
                run = await session.get_one(WorkflowRunRow, plan.run_id)
                return _result(invoice, run, PostingState.PENDING_RETRY, retry_at=retry_at)
        except LedgergateError as error:
            async with self.context.sessionmaker() as session:
                await self.engine.write_held(session, plan.run_id)
                invoice = await get_invoice(session, plan.invoice_id, for_update=True)
                run = await session.get_one(WorkflowRunRow, plan.run_id)
                await self._fail_in_session(session, invoice, run, error)
            raise
        mismatch = totals_mismatch(
            plan.totals, document, currency=plan.document.currency, tolerance=plan.tolerance
        )
        return await self._record(plan, erp_customer_id, document, mismatch, closing)

    async def _run_steps(
        self, plan: PostingPlan, bulk: BulkDocuments | None, opening: AsyncSession | None
    ) -> tuple[str, ErpSalesInvoice]:
        """The ERP steps; returns the ERP customer's id and the posted document."""
        erp, company = self.context.erp, plan.company_id
        run = self.engine.run(plan.run_id, leased_until=plan.leased_until, opening=opening)
        await self._check_tax_codes(plan, run)
        erp_customer_id = plan.known_erp_customer_id
        if erp_customer_id is not None:
            await run.record(
                "upsert_customer",
                request=plan.customer,
                outcome={"id": erp_customer_id, "source": "cross-reference"},
                downstream_key=plan.customer.number,
                backend_ref=erp_customer_id,
            )
        else:
            erp_customer = await run.step(
                "upsert_customer",
                lambda: erp.upsert_customer(company, plan.customer),
                request=plan.customer,
                downstream_key=plan.customer.number,
                backend_ref=lambda customer: customer.id,
            )
            erp_customer_id = erp_customer.id
        if bulk is not None:
            posted = await self._bulk_document(plan, bulk, run, source="bulk")
        elif plan.first_run:  # created, posted and read back in one call, as in bulk

            async def one(_: str, document: ErpSalesInvoiceCreate) -> ErpSalesInvoice:
                return await erp.post_new_sales_invoice(company, document)

            posted = await self._bulk_document(plan, one, run, source="created_with_it")
        else:  # a retry: `create_document` (which looks the document up first), then
            # `post_document`, each its own step
            draft = await run.step(
                "create_document",
                lambda: erp.create_sales_invoice(company, plan.document),
                request=plan.document,
                downstream_key=plan.document.external_document_number,
                backend_ref=lambda document: document.id,
            )
            posted = await run.step(
                "post_document",
                lambda: erp.post_sales_invoice(
                    company, draft.id, known_draft=draft.status == ErpDocumentStatus.DRAFT
                ),
                request={"document_id": draft.id},
                downstream_key=plan.document.external_document_number,
                backend_ref=lambda document: document.number,
            )
        if posted.status not in (ErpDocumentStatus.POSTED, ErpDocumentStatus.PAID):
            raise BackendContractError(
                f"the ERP acknowledged the post of {posted.id} but reports it {posted.status}",
                backend="erp",
                operation="post_sales_invoice",
            )
        return erp_customer_id, posted

    async def _bulk_document(
        self, plan: PostingPlan, bulk: BulkDocuments, run: RunHandle, *, source: str
    ) -> ErpSalesInvoice:
        """`create_document` as one operation of a call that also posts the document and
        reads it back; `post_document` is recorded from its answer, its `source` saying
        which call that was (`bulk` work's, or a first attempt's own). A retry looks the
        document up first: a draft an earlier attempt left (perhaps without all its lines)
        is completed and posted on its own."""
        erp, company = self.context.erp, plan.company_id
        key = plan.document.external_document_number

        async def create() -> ErpSalesInvoice:
            found = None if plan.first_run else await erp.find_sales_invoice(company, key)
            if found is None:
                return await bulk(plan.run_id, plan.document)
            if found.status == ErpDocumentStatus.DRAFT:
                return await erp.create_sales_invoice(company, plan.document)
            return found

        posted = await run.step(
            "create_document",
            create,
            request=plan.document,
            downstream_key=key,
            backend_ref=lambda document: document.id,
        )
        if posted.status == ErpDocumentStatus.DRAFT:
            return await run.step(
                "post_document",
                lambda: erp.post_sales_invoice(company, posted.id, known_draft=True),
                request={"document_id": posted.id},
                downstream_key=key,
                backend_ref=lambda document: document.number,
            )
        await run.record(
            "post_document",
            request={"document_id": posted.id},
            outcome={**posted.model_dump(mode="json"), "source": source},
            downstream_key=key,
            backend_ref=posted.number,
        )
        return posted

    async def _check_tax_codes(self, plan: PostingPlan, run: RunHandle) -> None:
        """Every tax code of the invoice is a tax group of the ERP company, or a 422."""
        company, cache = plan.company_id, self.context.erp_tax_codes
        wanted = {line.tax_code for line in plan.document.lines}
        cached = cache.get(company)
        if cached is not None and wanted <= cached:
            await run.record(
                "check_tax_codes",
                request={"company_id": company},
                outcome={"tax_codes": sorted(wanted), "source": "cache"},
            )
            return
        tax_codes = await run.step(
            "check_tax_codes",
            lambda: self.context.erp.list_tax_codes(company),
            request={"company_id": company},
        )
        cache.put(company, tax_codes)
        unknown = sorted(wanted - tax_codes)
        if unknown:
            raise UnknownTaxCode(
                f"the ERP company has no tax group {', '.join(unknown)}", tax_codes=unknown
            )

    async def _record(
        self,
        plan: PostingPlan,
        erp_customer_id: str,
        document: ErpSalesInvoice,
        mismatch: ErpTotalsMismatch | None,
        closing: Closing | None,
    ) -> PostingResult:
        """The acknowledgement recorded: the invoice `posted`, or held on a totals mismatch.

        The closing transaction speaks SQL Core on a connection (`Engine.closing`), with no
        ORM session or flush: the invoice and the run are written as the prepare transaction
        left them, not read again, by one UPDATE each, the run under its version check. Its
        writes (the held step outcomes, the customer's ERP reference, the outbox's events, the
        run, the invoice) touch different rows and read none of each other's, so they go as
        one statement on PostgreSQL (`Engine.closing_writes`); an invoice its write did not
        change is refused after it, and nothing of the transaction commits. A posted
        invoice's transaction is handed to `closing` uncommitted, its writes unsent, when
        given: they go with the key's completion, in its statement (`Unsent`).
        """
        connection, handed_over = await self.engine.closing(), False
        try:
            dialect, invoice, run = connection.dialect.name, plan.invoice, plan.run
            status = InvoiceStatus.POSTED if mismatch is None else InvoiceStatus.POSTING_MISMATCH
            writes: list[Write] = []
            # Many postings of one customer may finish at once: set the cross-reference once,
            # without the row's version check, so none of them fails on the others.
            if plan.known_erp_customer_id is None:
                erp_ref = {"customer_id": plan.customer_id, "erp_ref": erp_customer_id}
                writes.append(Write(_SET_CUSTOMER_ERP_REF, [{**erp_ref, "updated_at": utcnow()}]))
            acknowledging = _acknowledging_write(invoice, status, document)
            acknowledgement = _acknowledgement(invoice, document, match=mismatch is None)
            posted = invoice_events.posted(invoice, run, partner_id=plan.partner_id)
            if mismatch is None:
                mark_succeeded(run, acknowledgement)
            else:
                run.result = acknowledgement
                close_failed(run, mismatch)
            closed = run_writes(dialect, run, CLOSED_COLUMNS)
            # The run's version check first: when both refuse, a stale run is what is raised.
            writes += [*recording(dialect, [posted]), *closed, acknowledging]
            unsent = Unsent(
                await self.engine.closing_writes(connection, plan.run_id, writes),
                partial(_refuse_unacknowledged, invoice, acknowledging),
            )
            leave_written(run, closed[0])
            if mismatch is None and closing is not None:
                closing.hand_over(connection, unsent)  # sent with the key's completion
                handed_over = True
                return _result(invoice, run, PostingState.POSTED)
            *_, version = await send_unsent(connection, unsent, [])
            set_committed_value(invoice, "version", version)
            await connection.commit()
            if mismatch is not None:
                attach_run(mismatch, run.id)
                raise mismatch
            return _result(invoice, run, PostingState.POSTED)
        finally:
            if not handed_over:
                await connection.close()

    async def _fail_in_session(
        self, session: AsyncSession, invoice: InvoiceRow, run: WorkflowRunRow, error: Exception
    ) -> None:
        """Record the failure; a business failure hands the invoice back as `open`."""
        if invoice.status == InvoiceStatus.POSTING and error_class_of(error) == ErrorClass.BUSINESS:
            invoice.status = InvoiceStatus.OPEN
        failed = invoice_events.posting_failed(
            invoice,
            run,
            error_class=error_class_of(error),
            error_type=error_type_of(error),
            partner_id=await customer_partner(session, invoice.customer_id),
        )
        await record(session, failed)
        await fail_in_session(session, run, error)


_STATUS_OF = select(INVOICES.c.status).where(INVOICES.c.id == bindparam("invoice_id"))


@cache
def _acknowledging(status: InvoiceStatus) -> Update:
    """`_acknowledge`'s statement for `status`, built once: the statuses it may be reached
    from are bound values of their own (no IN list expanded per execution), and every
    execution hits the statement's memoized cache key and compiled form."""
    sources = sorted(INVOICE_STATUS.sources(status))
    return (
        update(INVOICES)
        .where(
            INVOICES.c.id == bindparam("invoice_id"),
            or_(
                *(
                    INVOICES.c.status == bindparam(f"source_{n}", value=source)
                    for n, source in enumerate(sources)
                )
            ),
        )
        .values(version=INVOICES.c.version + 1)  # and the columns the parameters name
        .returning(INVOICES.c.version)
    )


def _acknowledging_write(
    invoice: InvoiceRow, status: InvoiceStatus, document: ErpSalesInvoice
) -> Write:
    """The write of the invoice (as the prepare left it) moved to `status` with the ERP's
    document, returning its new version, or none (a `StaleWrite`) when the invoice is no
    longer in a status that may reach it (`_refuse_unacknowledged`); the invoice is left as
    it writes it, but for its version."""
    now = utcnow()
    changes: dict[str, Any] = {
        "status": status,
        "erp_ref": document.id,
        "erp_document_number": document.number,
        "posted_at": now,
        "updated_at": now,
    }
    set_committed(invoice, changes)
    return Write(
        _acknowledging(status),
        [{"invoice_id": invoice.id, **changes}],
        stale=f"invoice {invoice.id} may not reach {status} now",
    )


async def _refuse_unacknowledged(
    invoice: InvoiceRow, acknowledging: Write, connection: AsyncConnection, stale: StaleWrite
) -> None:
    """An invoice its `acknowledging` write did not change (it is no longer in a status that
    may reach its new one) refused as the status machine refuses it; another write's
    `stale` left to stand."""
    if stale.write is not acknowledging:
        return
    current = await connection.execute(_STATUS_OF, {"invoice_id": invoice.id})
    INVOICE_STATUS.check(InvoiceStatus(current.scalar_one()), InvoiceStatus(invoice.status))
    raise AssertionError(f"invoice {invoice.id} may reach {invoice.status} but was not updated")


def _routed(plan: PostingPlan) -> AbstractContextManager[None]:
    """The plan's ERP calls sent to its legal entity's connection, as the prepare read it."""
    if plan.erp_connection is None:
        return nullcontext()
    return connection_known(plan.company_id, plan.erp_connection)


def _plan(
    run: WorkflowRunRow,
    invoice: InvoiceRow,
    read: AfterLock,
    posting_date: date,
    *,
    first_run: bool,
    tolerance: int,
) -> PostingPlan:
    customer, legal_entity = read.customer, read.legal_entity
    known_customer = run.attempts == 1 and read.synced
    return PostingPlan(
        run_id=run.id,
        run=run,
        invoice=invoice,
        invoice_id=invoice.id,
        company_id=legal_entity.erp_company_id,
        erp_connection=legal_entity.erp_connection,
        customer_id=customer.id,
        customer=ErpCustomerUpsert(
            number=customer.erp_number,
            display_name=fit(ErpCustomerUpsert, "display_name", customer.name),
            email=fit(ErpCustomerUpsert, "email", customer.email),
            currency=customer.currency,
        ),
        totals=Totals.of_invoice(invoice),
        tolerance=tolerance,
        partner_id=customer.partner_id,
        known_erp_customer_id=customer.erp_ref if known_customer else None,
        first_run=first_run,
        leased_until=run.next_attempt_at,
        correlation_id=run.correlation_id,
        document=ErpSalesInvoiceCreate(
            external_document_number=erp_document_reference(invoice.id, read.reversals),
            customer_number=customer.erp_number,
            currency=invoice.currency,
            posting_date=posting_date,
            due_date=max(invoice.due_date, posting_date),
            lines=erp_lines(invoice, legal_entity),
        ),
    )


class TaxCodes(Protocol):
    """A legal entity's tax-code mappings: its row, or its snapshot."""

    def erp_tax_code(self, tax_code: str) -> str: ...


def erp_lines(invoice: InvoiceRow, legal_entity: TaxCodes) -> tuple[ErpInvoiceLine, ...]:
    """The invoice's lines as the ERP takes them (it prices and taxes them itself), each
    with the ERP tax group the legal entity maps its tax code to, and a line with a
    service period booked to its deferred revenue account (`deferral`)."""
    return tuple(
        ErpInvoiceLine(
            sequence=line.sequence,
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_amount,
            tax_code=legal_entity.erp_tax_code(line.tax_code),
            account_number=line.deferred_account,
        )
        for line in invoice.lines
    )


def _acknowledgement(
    invoice: InvoiceRow, document: ErpSalesInvoice, *, match: bool
) -> dict[str, Any]:
    return {
        "erp_document_id": document.id,
        "erp_document_number": document.number,
        "erp_status": document.status.value,
        "posting_date": invoice.posting_date.isoformat() if invoice.posting_date else None,
        "erp_total_excluding_tax": document.total_excluding_tax,
        "erp_total_tax": document.total_tax,
        "erp_total_including_tax": document.total_including_tax,
        "totals_match": match,
    }


def _result(
    invoice: InvoiceRow,
    run: WorkflowRunRow,
    state: PostingState,
    *,
    retry_at: datetime | None = None,
    already_posted: bool = False,
) -> PostingResult:
    return PostingResult(
        invoice_id=invoice.id,
        state=state,
        run_id=run.id,
        run_url=run_url(run.id),
        posting=InvoicePosting.model_validate(invoice.posting),
        retry_at=retry_at,
        already_posted=already_posted,
    )
