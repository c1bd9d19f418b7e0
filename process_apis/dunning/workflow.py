"""The account suspension and reactivation runs of a dunning case.

A run is created, leased, in the transaction that changes the case (`suspend_case`
by the schedule, `close_case` by a payment), so the decision and the run that carries
it out commit together. The run then sets the account's status in the support desk,
the entitlements, the ERP and the CRM (`steps`), with no transaction open. A system
still down defers the run (the worker retries it); any other failure puts it in the
exception queue; either way its steps say which systems have the new status and its
result lists those done and those left. A replay finishes it.

A run the case has moved past is closed as `superseded` without calling anything: a
suspension whose case a payment closed meanwhile (the reactivation sets every system
active), a reactivation of a customer suspended again by a newer case. Neither run may
be discarded: an account must not stay suspended in one system and active in another
without a run saying so; one fixed outside the gateway is resolved.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import LedgergateError
from core.models.customer import CustomerRow
from core.models.dunning import DunningCaseRow, DunningStatus
from core.models.legal_entity import LegalEntityRow
from core.models.workflow_run import StepStatus, WorkflowRunRow, WorkflowStepRow
from process_apis.deps import ProcessContext
from process_apis.dunning.steps import STEPS, AccountPlan, set_everywhere
from process_apis.entitlements import service
from process_apis.runs.engine import Engine, mark_succeeded
from process_apis.runs.replay import Replay
from system_apis.errors import BackendTransientError

SUSPENSION = "account_suspension"
REACTIVATION = "account_reactivation"
CLIENT = "dunning"


class AccountStatusWorkflow:
    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.engine = Engine(context.sessionmaker, steps=STEPS, lease=context.settings.run_lease)

    def replays(self) -> dict[str, Replay]:
        return {SUSPENSION: Replay(resume=self.resume), REACTIVATION: Replay(resume=self.resume)}

    async def new_run(self, session: AsyncSession, case: DunningCaseRow, *, suspend: bool) -> str:
        """The case's run, leased, added to `session` (the caller commits, then `execute`s)."""
        customer = await session.get_one(CustomerRow, case.customer_id)
        run = self.engine.new_run(
            workflow=SUSPENSION if suspend else REACTIVATION,
            subject_id=case.id,
            legal_entity_id=customer.legal_entity_id,
            params={"customer_id": case.customer_id},
            correlation_id=None,
            client_id=CLIENT,
        )
        session.add(run)
        return run.id

    async def resume(self, run_id: str) -> None:
        """A run claimed from the queue, once more."""
        await self.execute(run_id, resumed=True)

    async def execute(self, run_id: str, *, resumed: bool = False) -> None:
        """Carry the leased run out; a failure is recorded on the run (and raised unless
        transient)."""
        plan = await self._plan(run_id, resumed=resumed)
        if plan is None:
            return
        try:
            statuses = await set_everywhere(self.context, self.engine.run(run_id), plan)
        except BackendTransientError as error:
            await self.engine.defer(run_id, error)
            await self._note_progress(run_id, plan.suspend)
            return
        except LedgergateError as error:
            await self.engine.fail(run_id, error)
            await self._note_progress(run_id, plan.suspend)
            raise
        await self.engine.succeed(run_id, {**statuses.model_dump(mode="json"), "left": []})

    async def _plan(self, run_id: str, *, resumed: bool) -> AccountPlan | None:
        """What the run sets, read in one transaction; none when it is superseded."""
        async with self.engine.transaction(run_id) as session:
            run = await session.get_one(WorkflowRunRow, run_id)
            case = await session.get_one(DunningCaseRow, run.subject_id)
            suspend = run.workflow == SUSPENSION
            if await _superseded(session, case, suspend=suspend):
                mark_succeeded(run, {"superseded": True, "case_status": case.status})
                return None
            if resumed:
                self.engine.resume(run, correlation_id=None)
            customer = await session.get_one(CustomerRow, case.customer_id)
            entity = await session.get_one(LegalEntityRow, customer.legal_entity_id)
            return AccountPlan(
                run_id=run.id,
                case_id=case.id,
                customer_id=customer.id,
                company_id=entity.erp_company_id,
                erp_number=customer.erp_number,
                suspend=suspend,
                desired=await service.desired_support(session, customer.id),
                key_prefix=f"{run.id}:{run.attempts}",
            )

    async def _note_progress(self, run_id: str, suspend: bool) -> None:
        """The run's result names the systems that have the new status and those left."""
        async with self.context.sessionmaker.begin() as session:
            done = set(
                await session.scalars(
                    select(WorkflowStepRow.name).where(
                        WorkflowStepRow.run_id == run_id,
                        WorkflowStepRow.status == StepStatus.SUCCEEDED,
                    )
                )
            )
            run = await session.get_one(WorkflowRunRow, run_id)
            run.result = {
                "suspended": suspend,
                "done": [step for step in STEPS if step in done],
                "left": [step for step in STEPS if step not in done],
            }


async def _superseded(session: AsyncSession, case: DunningCaseRow, *, suspend: bool) -> bool:
    """Whether the case moved past what the run was started to do."""
    if suspend:
        return case.status != DunningStatus.SUSPENDED
    return await service.account_suspended(session, case.customer_id)
