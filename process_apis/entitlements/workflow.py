"""The entitlement re-sync workflow: the support desk brought back in line with the
customer's subscriptions.

prepare (one transaction): the local rows are re-derived from the subscriptions and an
`entitlement_resync` run is taken. One step, with no transaction open, reconciles the
desk (grants, re-tiers, revokes). It is idempotent by nature: a second re-sync finds
nothing to do. A transient failure defers the run (202).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.subscriptions import Entitlement
from core.errors import LedgergateError
from core.models.workflow_run import WorkflowRunRow
from process_apis.deps import ProcessContext
from process_apis.entitlements import service
from process_apis.entitlements.schemas import EntitlementResync, SupportEntitlementView
from process_apis.entitlements.service import SupportSync
from process_apis.lookups import get_customer
from process_apis.runs.engine import Engine
from process_apis.runs.replay import Replay
from process_apis.runs.repository import latest_run
from process_apis.runs.schemas import RunRef
from system_apis.errors import BackendTransientError
from system_apis.support.schemas import SupportTier

WORKFLOW = "entitlement_resync"
STEPS = ("sync_support_entitlements",)


@dataclass(frozen=True)
class ResyncPlan:
    run_id: str
    customer_id: str
    desired: dict[str, SupportTier]
    key_prefix: str


class EntitlementResyncWorkflow:
    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.engine = Engine(context.sessionmaker, steps=STEPS, lease=context.settings.run_lease)

    def replays(self) -> dict[str, Replay]:
        return {WORKFLOW: Replay(resume=self.resume, discard=self.discard)}

    async def resync(
        self,
        customer_id: str,
        *,
        client_id: str | None,
        correlation_id: str | None,
        claimed_run_id: str | None = None,
    ) -> EntitlementResync:
        async with self.context.sessionmaker() as session:
            customer = await get_customer(session, customer_id)
            await service.rebuild_local(session, customer_id)
            desired = await service.desired_support(session, customer_id)
            run = self.engine.take(
                session,
                await latest_run(session, workflow=WORKFLOW, subject_id=customer_id),
                workflow=WORKFLOW,
                subject_id=customer_id,
                legal_entity_id=customer.legal_entity_id,
                params={"desired": {k: v.value for k, v in desired.items()}},
                correlation_id=correlation_id,
                client_id=client_id,
                claimed_run_id=claimed_run_id,
            )
            plan = ResyncPlan(run.id, customer_id, desired, f"{run.id}:{run.attempts}")
            await session.commit()
        return await self.execute(plan)

    async def execute(self, plan: ResyncPlan) -> EntitlementResync:
        support, handle = self.context.support, self.engine.run(plan.run_id)
        try:
            synced = await handle.step(
                "sync_support_entitlements",
                lambda: service.reconcile(
                    support, plan.customer_id, plan.desired, key_prefix=plan.key_prefix
                ),
                request={k: v.value for k, v in plan.desired.items()},
                downstream_key=plan.customer_id,
            )
        except BackendTransientError as error:
            retry_at = await self.engine.defer(plan.run_id, error)
            ref = RunRef.queued(plan.run_id, retry_at)
            return await self._view(plan.customer_id, ref, None)
        except LedgergateError as error:
            await self.engine.fail(plan.run_id, error)
            raise
        await self.engine.succeed(plan.run_id, synced.model_dump(mode="json"))
        ref = RunRef.completed(plan.run_id)
        return await self._view(plan.customer_id, ref, synced)

    async def _view(
        self, customer_id: str, run: RunRef, synced: SupportSync | None
    ) -> EntitlementResync:
        async with self.context.sessionmaker() as session:
            rows = await service.customer_entitlements(session, customer_id)
        return EntitlementResync(
            customer_id=customer_id,
            entitlements=[Entitlement.model_validate(row) for row in rows],
            run=run,
            support=[
                SupportEntitlementView(id=e.id, product_id=e.product_id, tier=e.tier.value)
                for e in (synced.active if synced else [])
            ],
        )

    async def resume(self, run_id: str) -> EntitlementResync:
        """Run a run claimed from the exception queue once more (replay)."""
        run = await self.engine.load(run_id)
        return await self.resync(
            run.subject_id,
            client_id=run.client_id,
            correlation_id=run.correlation_id,
            claimed_run_id=run_id,
        )

    async def discard(self, _session: AsyncSession, _run: WorkflowRunRow) -> None:
        """Nothing to compensate: the local entitlements are canonical and were already
        re-derived; the desk is brought in line by the next re-sync or subscription change."""
