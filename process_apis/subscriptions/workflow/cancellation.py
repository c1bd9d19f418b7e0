"""The subscription cancellation workflow, also the compensation of a failed order.

prepare (one transaction): the subscription must be active or past due (a `pending`
one only when the run compensates a discarded order); a `subscription_cancel` run
is persisted. Then, with no transaction open: billing cancels the subscription now
(when it got there; cancelling one billing already cancelled is confirmed by
reading it back), and the support desk is reconciled without it (its tier revoked
unless another subscription still grants it). Finally the subscription is
`canceled` and its local entitlements revoked. A transient failure queues the run
(202).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.subscriptions import SUBSCRIPTION_STATUS, SubscriptionStatus
from core.errors import LedgergateError
from core.models.customer import CustomerRow
from core.models.subscription import SubscriptionRow
from core.models.workflow_run import WorkflowRunRow
from events.outbox import record
from events.schemas.subscription import SubscriptionCanceled, subscription_event
from process_apis.deps import ProcessContext
from process_apis.entitlements import service as entitlements
from process_apis.runs.engine import Engine, mark_succeeded
from process_apis.runs.replay import Replay
from process_apis.runs.repository import latest_run, succeeded_step
from process_apis.runs.schemas import RunRef, run_url
from process_apis.subscriptions import repository
from process_apis.subscriptions.errors import (
    ChangePending,
    CompensationRefused,
    SubscriptionNotActive,
)
from process_apis.subscriptions.schemas import CancellationCreate, CancellationResult
from system_apis.billing.port import BillingPort
from system_apis.billing.schemas import BillingSubscription, BillingSubscriptionStatus
from system_apis.errors import BackendNotFound, BackendTransientError
from system_apis.support.schemas import SupportTier

WORKFLOW = "subscription_cancel"
AMENDMENT_WORKFLOW = "subscription_amendment"
CANCEL_STEP = "cancel_billing_subscription"
STEPS = (CANCEL_STEP, "sync_support_entitlements")
CANCELLABLE = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)


@dataclass(frozen=True)
class CancelPlan:
    run_id: str
    subscription_id: str
    customer_id: str
    billing_ref: str | None
    support: dict[str, SupportTier]
    key_prefix: str


async def cancel_in_billing(billing: BillingPort, subscription_id: str) -> BillingSubscription:
    """Cancel now; a subscription billing has cancelled already is read back instead."""
    try:
        return await billing.cancel_subscription(subscription_id)
    except BackendNotFound:
        found = await billing.get_subscription(subscription_id)
        if found.status != BillingSubscriptionStatus.CANCELED:
            raise
        return found


class SubscriptionCancelWorkflow:
    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.engine = Engine(context.sessionmaker, steps=STEPS, lease=context.settings.run_lease)

    def replays(self) -> dict[str, Replay]:
        return {WORKFLOW: Replay(resume=self.resume, discard=self.discard)}

    async def cancel(
        self,
        subscription_id: str,
        request: CancellationCreate,
        *,
        client_id: str | None,
        correlation_id: str | None,
        claimed_run_id: str | None = None,
    ) -> CancellationResult:
        async with self.context.sessionmaker() as session:
            subscription = await repository.get_subscription(
                session, subscription_id, for_update=True
            )
            if subscription.status == SubscriptionStatus.CANCELED and claimed_run_id is None:
                done = await latest_run(session, workflow=WORKFLOW, subject_id=subscription_id)
                if done is not None:
                    ref = RunRef.completed(done.id)
                    return await self._result(session, subscription_id, ref, already=True)
            pending = await repository.unfinished_run(
                session, subscription_id, (WORKFLOW, AMENDMENT_WORKFLOW)
            )
            if pending is not None and pending.id != claimed_run_id:
                raise ChangePending(
                    f"run {pending.id} ({pending.workflow}) on {subscription_id} is "
                    f"{pending.status}; replay, resolve or discard it first",
                    run_id=pending.id,
                    run_url=run_url(pending.id),
                )
            run = await self._take_run(
                session, subscription, request, client_id, correlation_id, claimed_run_id
            )
            plan = CancelPlan(
                run_id=run.id,
                subscription_id=subscription_id,
                customer_id=subscription.customer_id,
                billing_ref=subscription.billing_ref,
                support=await entitlements.desired_support(
                    session, subscription.customer_id, exclude=subscription_id
                ),
                key_prefix=f"{run.id}:{run.attempts}",
            )
            await session.commit()
        return await self.execute(plan)

    async def _take_run(
        self,
        session: AsyncSession,
        subscription: SubscriptionRow,
        request: CancellationCreate,
        client_id: str | None,
        correlation_id: str | None,
        claimed_run_id: str | None,
    ) -> WorkflowRunRow:
        run = None if claimed_run_id is None else await session.get(WorkflowRunRow, claimed_run_id)
        compensating = run is not None and "compensates" in run.params
        allowed = CANCELLABLE + ((SubscriptionStatus.PENDING,) if compensating else ())
        if subscription.status not in allowed:
            raise SubscriptionNotActive(
                f"subscription {subscription.id} is {subscription.status}; it cannot be cancelled",
                subscription_status=subscription.status,
            )
        if run is not None:
            self.engine.resume(run, correlation_id=correlation_id)
            return run
        customer = await session.get_one(CustomerRow, subscription.customer_id)
        run = self.engine.new_run(
            workflow=WORKFLOW,
            subject_id=subscription.id,
            legal_entity_id=customer.legal_entity_id,
            params=request.model_dump(mode="json"),
            correlation_id=correlation_id,
            client_id=client_id,
        )
        session.add(run)
        await session.flush()
        return run

    async def resume(self, run_id: str) -> CancellationResult:
        """Run a run claimed from the exception queue once more (replay, or a compensation)."""
        run = await self.engine.load(run_id)
        return await self.cancel(
            run.subject_id,
            CancellationCreate(note=run.params.get("note")),
            client_id=run.client_id,
            correlation_id=run.correlation_id,
            claimed_run_id=run_id,
        )

    async def discard(self, session: AsyncSession, run: WorkflowRunRow) -> None:
        """Giving a cancellation up leaves the subscription as it was, unless billing has
        already cancelled it: then the run must be replayed (or resolved) to match."""
        if await succeeded_step(session, run.id, CANCEL_STEP) is not None:
            raise CompensationRefused(
                f"run {run.id} already cancelled the subscription in billing; replay or resolve it"
            )

    async def execute(self, plan: CancelPlan) -> CancellationResult:
        try:
            await self._run_steps(plan)
        except BackendTransientError as error:
            retry_at = await self.engine.defer(plan.run_id, error)
            ref = RunRef.queued(plan.run_id, retry_at)
            async with self.context.sessionmaker() as session:
                return await self._result(session, plan.subscription_id, ref)
        except LedgergateError as error:
            await self.engine.fail(plan.run_id, error)
            error.extensions.setdefault("subscription_id", plan.subscription_id)
            raise
        async with self.context.sessionmaker() as session:
            subscription = await repository.get_subscription(
                session, plan.subscription_id, for_update=True
            )
            run = await session.get_one(WorkflowRunRow, plan.run_id)
            subscription.status = SUBSCRIPTION_STATUS.check(
                SubscriptionStatus(subscription.status), SubscriptionStatus.CANCELED
            )
            await entitlements.revoke_local(session, subscription.id)
            mark_succeeded(run, {"billing_subscription_id": plan.billing_ref})
            await record(session, subscription_event(SubscriptionCanceled, subscription, run))
            await session.commit()
            ref = RunRef.completed(run.id)
            return await self._result(session, plan.subscription_id, ref)

    async def _run_steps(self, plan: CancelPlan) -> None:
        billing, support = self.context.billing, self.context.support
        handle = self.engine.run(plan.run_id)
        if plan.billing_ref is not None:
            billing_ref = plan.billing_ref
            await handle.step(
                CANCEL_STEP,
                lambda: cancel_in_billing(billing, billing_ref),
                request={"billing_subscription_id": billing_ref},
                downstream_key=billing_ref,
                backend_ref=lambda cancelled: cancelled.status.value,
            )
        await handle.step(
            "sync_support_entitlements",
            lambda: entitlements.reconcile(
                support, plan.customer_id, plan.support, key_prefix=plan.key_prefix
            ),
            request={k: v.value for k, v in plan.support.items()},
            downstream_key=plan.customer_id,
        )

    @staticmethod
    async def _result(
        session: AsyncSession, subscription_id: str, ref: RunRef, *, already: bool = False
    ) -> CancellationResult:
        base = await repository.result(session, subscription_id, ref)
        return CancellationResult(**base.model_dump(), already_canceled=already)
