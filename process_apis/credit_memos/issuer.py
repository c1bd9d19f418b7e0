"""What issuing any credit memo runs through, support credit or correction: approving it
(the run taken in the same transaction), resuming it from the exception queue, and the
answer once its steps ran: deferred while a backend is down, failed (queued, or answered
to a caller who can correct it), or recorded as posted.

A kind of memo says only what is its own: its plan, its steps and what it records.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.documents import CREDIT_MEMO_STATUS, CreditMemoKind, CreditMemoStatus
from core.errors import LedgergateError
from core.models.credit_memo import CreditMemoRow
from core.models.workflow_run import WorkflowRunRow
from events.attribution import customer_partner
from events.outbox import record
from events.schemas.credit_memo import CreditMemoPosted, credit_memo_event
from process_apis.credit_memos import repository
from process_apis.credit_memos.issuing import RUN_WORKFLOW, fail_issue, take_run
from process_apis.credit_memos.schemas import CreditMemoLine, CreditMemoResource
from process_apis.deps import ProcessContext
from process_apis.runs.engine import Engine, mark_succeeded
from process_apis.runs.repository import latest_run
from process_apis.runs.schemas import RunSummary, run_url
from system_apis.billing.schemas import BillingCreditNote
from system_apis.erp.schemas import ErpSalesCreditMemo
from system_apis.errors import BackendTransientError


class IssuePlan(Protocol):
    """What the shared part of an issue needs of a kind's plan."""

    @property
    def run_id(self) -> str: ...

    @property
    def credit_memo_id(self) -> str: ...

    @property
    def answered(self) -> bool:
        """A caller waits for the answer (not a replay): a problem it can correct is not
        queued."""
        ...


class IssueOutcome(Protocol):
    """What every issue's steps end with: the ERP's memo, and billing's note if any."""

    @property
    def erp_memo(self) -> ErpSalesCreditMemo: ...

    @property
    def credit_note(self) -> BillingCreditNote | None: ...


Plan = TypeVar("Plan", bound=IssuePlan)
Outcome = TypeVar("Outcome", bound=IssueOutcome)


def resource(memo: CreditMemoRow, run: WorkflowRunRow | None) -> CreditMemoResource:
    """The credit memo as the API shows it, with its latest run."""
    return CreditMemoResource.model_validate(
        {
            **{name: getattr(memo, name) for name in CreditMemoResource.model_fields.keys() & _ROW},
            "refs": memo.refs,
            "lines": [CreditMemoLine.model_validate(line) for line in memo.lines],
            "last_run": RunSummary.model_validate(run) if run is not None else None,
            "run_url": run_url(run.id) if run is not None else None,
        }
    )


_ROW = frozenset(CreditMemoRow.__table__.columns.keys())


class Issuer(ABC, Generic[Plan, Outcome]):
    """The issuing run of one kind of credit memo."""

    context: ProcessContext
    engine: Engine

    async def read(self, credit_memo_id: str) -> CreditMemoResource:
        async with self.context.sessionmaker() as session:
            memo = await repository.get_credit_memo(session, credit_memo_id)
            workflow = RUN_WORKFLOW.get(CreditMemoKind(memo.kind))
            if workflow is None:  # a refund's memo: booked by the refund's run
                return resource(memo, None)
            run = await latest_run(session, workflow=workflow, subject_id=memo.id)
            return resource(memo, run)

    async def approve(
        self,
        credit_memo_id: str,
        *,
        approver: str,
        correlation_id: str | None,
        note: str | None = None,
        claimed_run_id: str | None = None,
    ) -> CreditMemoResource:
        """Approve the memo (if it waits for it) and issue it, or report it issued."""
        async with self.context.sessionmaker() as session:
            taken = await take_run(
                session,
                self.engine,
                credit_memo_id,
                approver=approver,
                note=note,
                correlation_id=correlation_id,
                claimed_run_id=claimed_run_id,
            )
            if taken.posted or taken.run is None:
                return resource(taken.memo, taken.run)
            plan = await self._plan(session, taken.memo, taken.run, answered=claimed_run_id is None)
            await session.commit()
        return await self._execute(plan)

    async def resume(self, run_id: str) -> CreditMemoResource:
        """Run a run claimed from the exception queue once more (replay)."""
        run = await self.engine.load(run_id)
        return await self.approve(
            run.subject_id,
            approver=run.client_id or "replay",
            correlation_id=run.correlation_id,
            claimed_run_id=run_id,
        )

    async def _execute(self, plan: Plan) -> CreditMemoResource:
        try:
            outcome = await self._run_steps(plan)
        except BackendTransientError as error:
            await self.engine.defer(plan.run_id, error)
            return await self.read(plan.credit_memo_id)
        except LedgergateError as error:
            await fail_issue(self.context, plan.run_id, error, answered=plan.answered)
            raise
        return await self._record(plan, outcome)

    @abstractmethod
    async def _plan(
        self, session: AsyncSession, memo: CreditMemoRow, run: WorkflowRunRow, *, answered: bool
    ) -> Plan:
        """The documents each backend receives, dated in the prepare transaction."""

    @abstractmethod
    async def _run_steps(self, plan: Plan) -> Outcome:
        """The backends' side, each a step safe to repeat, no transaction open."""

    @abstractmethod
    def _acknowledgement(self, memo: CreditMemoRow, outcome: Outcome) -> dict[str, Any]:
        """What the run's result shows of the backends' answers."""

    def _keep(self, memo: CreditMemoRow, outcome: Outcome) -> None:
        """What else of the outcome the memo keeps (nothing unless a kind says so)."""

    async def _record(self, plan: Plan, outcome: Outcome) -> CreditMemoResource:
        """The memo posted, its run succeeded, its event recorded: one transaction."""
        async with self.context.sessionmaker() as session:
            memo = await repository.get_credit_memo(session, plan.credit_memo_id, for_update=True)
            run = await session.get_one(WorkflowRunRow, plan.run_id)
            issued = CREDIT_MEMO_STATUS.check(
                CreditMemoStatus(memo.status), CreditMemoStatus.ISSUED
            )
            memo.status = CREDIT_MEMO_STATUS.check(issued, CreditMemoStatus.POSTED)
            memo.erp_ref = outcome.erp_memo.id
            memo.erp_document_number = outcome.erp_memo.number
            memo.erp_total_including_tax = outcome.erp_memo.total_including_tax
            memo.billing_ref = outcome.credit_note.id if outcome.credit_note else None
            self._keep(memo, outcome)
            mark_succeeded(run, self._acknowledgement(memo, outcome))
            partner_id = await customer_partner(session, memo.customer_id)
            posted = credit_memo_event(
                CreditMemoPosted, memo, partner_id=partner_id, correlation_id=run.correlation_id
            )
            await record(session, posted)
            await session.commit()
            return resource(memo, run)
