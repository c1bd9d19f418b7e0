"""The order → subscription workflow.

prepare (one transaction): the customer must be active, the price and its product
active and in the customer's currency, the product's tier one that grants
entitlements; the subscription is saved `pending` with a `subscription_order` run.
Then, with no transaction open, the steps:

1. partner eligibility in the CRM (the request's partner, else the customer's
   attributed one): an approved, unexpired deal registration covering the product
   tier; a refusal is a 422 `partner-not-eligible` carrying the CRM's reason code;
2. the customer, the product and the price synced into billing when they are not
   there yet (see `customers.sync` and `subscriptions.catalog`);
3. the billing subscription, keyed by our subscription id;
4. the ERP customer upserted by number in the legal entity's company;
5. the support desk reconciled with the customer's subscriptions (grants the tier).

Finally the subscription is `active` with its billing reference and current period,
its deal registration as CRM reference, and its local entitlements.

A transient failure queues the run (202, the subscription stays `pending`); a
business failure fails it into the exception queue, also `pending`, fixable and
replayable. Discarding a failed order compensates with a cancelled subscription: a
`subscription_cancel` run is queued that cancels it in billing (when it got there)
and revokes what the desk granted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.parties import CustomerStatus
from core.canonical.subscriptions import SUBSCRIPTION_STATUS, SubscriptionStatus
from core.errors import LedgergateError
from core.ids import new_id
from core.models.base import utcnow
from core.models.customer import CustomerRow
from core.models.partner import PartnerRow
from core.models.price import PriceRow
from core.models.product import ProductRow
from core.models.subscription import SubscriptionRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from events.outbox import record
from events.schemas.subscription import SubscriptionCreated, subscription_event
from process_apis import customer_steps
from process_apis.customer_steps import (
    CustomerSnapshot,
    snapshot,
    sync_billing_customer,
    upsert_erp_customer,
)
from process_apis.deps import ProcessContext
from process_apis.entitlements import service as entitlements
from process_apis.entitlements.features import support_tier
from process_apis.errors import (
    CustomerNotActive,
    PriceCurrencyMismatch,
    PriceNotActive,
    UnknownReference,
)
from process_apis.references import billing_key, save_refs
from process_apis.runs.engine import Engine, mark_succeeded, rejects
from process_apis.runs.replay import Replay
from process_apis.runs.repository import latest_run
from process_apis.runs.schemas import RunRef
from process_apis.subscriptions import repository
from process_apis.subscriptions.errors import (
    PartnerNotEligible,
    SubscriptionNotActive,
)
from process_apis.subscriptions.schemas import SubscriptionCreate, SubscriptionResult
from process_apis.subscriptions.workflow import catalog
from process_apis.subscriptions.workflow.cancellation import WORKFLOW as CANCEL_WORKFLOW
from process_apis.subscriptions.workflow.catalog import (
    PriceSnapshot,
    price_snapshot,
    sync_billing_price,
)
from system_apis.billing.schemas import (
    BillingSubscription,
    BillingSubscriptionCreate,
    BillingSubscriptionItemCreate,
)
from system_apis.errors import BackendTransientError
from system_apis.support.schemas import SupportTier

WORKFLOW = "subscription_order"
STEPS = (
    "check_partner_eligibility",
    *customer_steps.STEPS[:2],
    *catalog.STEPS,
    "create_billing_subscription",
    customer_steps.STEPS[2],
    "sync_support_entitlements",
)


@dataclass(frozen=True)
class OrderPlan:
    """Everything the steps need, captured in the prepare transaction."""

    run_id: str
    subscription_id: str
    quantity: int
    partner_id: str | None
    customer: CustomerSnapshot
    price: PriceSnapshot
    tier: SupportTier
    support: dict[str, SupportTier]
    key_prefix: str
    on: date
    # A caller waits for the answer (not a replay): a problem it can correct is not queued.
    answered: bool = False


@dataclass(frozen=True)
class Ordered:
    billing: BillingSubscription
    deal_registration_id: str | None


class SubscriptionOrderWorkflow:
    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.engine = Engine(context.sessionmaker, steps=STEPS, lease=context.settings.run_lease)

    def replays(self) -> dict[str, Replay]:
        return {WORKFLOW: Replay(resume=self.resume, discard=self.discard)}

    async def order(
        self, *, request: SubscriptionCreate, client_id: str, correlation_id: str | None
    ) -> SubscriptionResult:
        async with self.context.sessionmaker() as session:
            subscription = await _validated_subscription(session, request)
            session.add(subscription)
            await session.flush()
            plan = await self._plan(
                session,
                subscription,
                client_id=client_id,
                correlation_id=correlation_id,
                claimed_run_id=None,
            )
            await session.commit()
        return await self.execute(plan)

    async def resume(self, run_id: str) -> SubscriptionResult:
        """Run a run claimed from the exception queue once more (replay)."""
        async with self.context.sessionmaker() as session:
            run = await session.get_one(WorkflowRunRow, run_id)
            subscription = await repository.get_subscription(
                session, run.subject_id, for_update=True
            )
            if subscription.status != SubscriptionStatus.PENDING:
                # The record step makes it active and the run succeeded in one transaction,
                # so a queued order's subscription is pending unless changed by hand.
                raise SubscriptionNotActive(
                    f"subscription {subscription.id} is {subscription.status}, not pending; "
                    "resolve the run instead",
                    subscription_status=subscription.status,
                )
            plan = await self._plan(
                session,
                subscription,
                client_id=run.client_id,
                correlation_id=run.correlation_id,
                claimed_run_id=run_id,
            )
            await session.commit()
        return await self.execute(plan)

    async def discard(self, session: AsyncSession, run: WorkflowRunRow) -> None:
        """Compensation of a failed order: a cancelled subscription.

        Queues a `subscription_cancel` run, due now, which cancels the subscription in
        billing if it got there and revokes what the desk granted; the replay worker
        (or an operator's replay) executes it with no transaction open.
        """
        subscription = await repository.get_subscription(session, run.subject_id)
        if subscription.status == SubscriptionStatus.CANCELED:
            return
        compensation = self.engine.new_run(
            workflow=CANCEL_WORKFLOW,
            subject_id=subscription.id,
            legal_entity_id=run.legal_entity_id,
            params={"note": f"compensates the discarded order run {run.id}", "compensates": run.id},
            correlation_id=run.correlation_id,
            client_id=run.client_id,
        )
        compensation.status = RunStatus.PENDING_RETRY
        compensation.next_attempt_at = utcnow()
        session.add(compensation)

    async def _plan(
        self,
        session: AsyncSession,
        subscription: SubscriptionRow,
        *,
        client_id: str | None,
        correlation_id: str | None,
        claimed_run_id: str | None,
    ) -> OrderPlan:
        customer = await session.get_one(CustomerRow, subscription.customer_id)
        price = await session.get_one(PriceRow, subscription.price_id)
        catalog = await price_snapshot(session, price)
        tier = support_tier(catalog.product_tier)
        run = self.engine.take(
            session,
            await latest_run(session, workflow=WORKFLOW, subject_id=subscription.id),
            workflow=WORKFLOW,
            subject_id=subscription.id,
            legal_entity_id=customer.legal_entity_id,
            params={
                "customer_id": subscription.customer_id,
                "price_id": subscription.price_id,
                "quantity": subscription.quantity,
                "partner_id": subscription.partner_id,
            },
            correlation_id=correlation_id,
            client_id=client_id,
            claimed_run_id=claimed_run_id,
        )
        await session.flush()
        return OrderPlan(
            run_id=run.id,
            subscription_id=subscription.id,
            quantity=subscription.quantity,
            partner_id=subscription.partner_id,
            customer=await snapshot(session, customer),
            price=catalog,
            tier=tier,
            support=await entitlements.desired_support(
                session, customer.id, exclude=subscription.id, plus={catalog.product_id: tier}
            ),
            key_prefix=f"{run.id}:{run.attempts}",
            on=utcnow().date(),
            answered=claimed_run_id is None,
        )

    async def execute(self, plan: OrderPlan) -> SubscriptionResult:
        try:
            ordered = await self._run_steps(plan)
        except BackendTransientError as error:
            retry_at = await self.engine.defer(plan.run_id, error)
            ref = RunRef.queued(plan.run_id, retry_at)
            async with self.context.sessionmaker() as session:
                return await repository.result(session, plan.subscription_id, ref)
        except LedgergateError as error:
            if rejects(error, answered=plan.answered):
                await self._withdraw(plan.subscription_id)
            await self.engine.fail(plan.run_id, error, answered=plan.answered)
            error.extensions.setdefault("subscription_id", plan.subscription_id)
            raise
        return await self._record(plan, ordered)

    async def _withdraw(self, subscription_id: str) -> None:
        """A refused order is cancelled: it never reached billing (eligibility comes first)."""
        async with self.context.sessionmaker.begin() as session:
            subscription = await repository.get_subscription(session, subscription_id)
            subscription.status = SUBSCRIPTION_STATUS.check(
                SubscriptionStatus(subscription.status), SubscriptionStatus.CANCELED
            )

    async def _run_steps(self, plan: OrderPlan) -> Ordered:
        crm, billing, handle = self.context.crm, self.context.billing, self.engine.run(plan.run_id)
        deal_registration_id = None
        if plan.partner_id is not None:
            partner_id = plan.partner_id
            eligibility = await handle.step(
                "check_partner_eligibility",
                lambda: crm.check_eligibility(
                    partner_id,
                    customer_id=plan.customer.customer_id,
                    product_tier=plan.price.product_tier,
                    on=plan.on,
                ),
                request={"partner_id": partner_id, "tier": plan.price.product_tier},
                backend_ref=lambda answer: answer.deal_registration_id,
            )
            if not eligibility.eligible:
                raise PartnerNotEligible(
                    f"the CRM does not credit partner {partner_id} for customer "
                    f"{plan.customer.customer_id} on {plan.price.product_tier}: "
                    f"{eligibility.reason.value}",
                    reason=eligibility.reason.value,
                    partner_id=partner_id,
                    deal_registration_id=eligibility.deal_registration_id,
                )
            deal_registration_id = eligibility.deal_registration_id
        customer_ref = await sync_billing_customer(self.context, handle, plan.customer)
        price_ref = await sync_billing_price(self.context, handle, plan.price)
        body = BillingSubscriptionCreate(
            reference=plan.subscription_id,
            customer_id=customer_ref,
            items=(BillingSubscriptionItemCreate(price_id=price_ref, quantity=plan.quantity),),
        )
        key = billing_key("subscription", plan.subscription_id, body)
        created = await handle.step(
            "create_billing_subscription",
            lambda: billing.create_subscription(body, idempotency_key=key),
            request=body,
            downstream_key=key,
            backend_ref=lambda created: created.id,
        )
        await save_refs(
            self.context.sessionmaker,
            SubscriptionRow,
            plan.subscription_id,
            billing_ref=created.id,
        )
        await upsert_erp_customer(self.context, handle, plan.customer)
        support = self.context.support
        await handle.step(
            "sync_support_entitlements",
            lambda: entitlements.reconcile(
                support, plan.customer.customer_id, plan.support, key_prefix=plan.key_prefix
            ),
            request={k: v.value for k, v in plan.support.items()},
            downstream_key=plan.customer.customer_id,
        )
        return Ordered(billing=created, deal_registration_id=deal_registration_id)

    async def _record(self, plan: OrderPlan, ordered: Ordered) -> SubscriptionResult:
        async with self.context.sessionmaker() as session:
            subscription = await repository.get_subscription(
                session, plan.subscription_id, for_update=True
            )
            run = await session.get_one(WorkflowRunRow, plan.run_id)
            subscription.status = SUBSCRIPTION_STATUS.check(
                SubscriptionStatus(subscription.status), SubscriptionStatus.ACTIVE
            )
            subscription.billing_ref = ordered.billing.id
            subscription.crm_ref = ordered.deal_registration_id
            subscription.current_period_start = ordered.billing.current_period_start
            subscription.current_period_end = ordered.billing.current_period_end
            await entitlements.grant_local(
                session,
                subscription_id=subscription.id,
                customer_id=subscription.customer_id,
                product_id=plan.price.product_id,
                tier=plan.tier,
            )
            mark_succeeded(run, _acknowledgement(ordered))
            await record(session, subscription_event(SubscriptionCreated, subscription, run))
            await session.commit()
            ref = RunRef.completed(run.id)
            return await repository.result(session, subscription.id, ref)


async def _validated_subscription(
    session: AsyncSession, request: SubscriptionCreate
) -> SubscriptionRow:
    """A `pending` subscription for an active customer and price in its currency."""
    customer = await session.get(CustomerRow, request.customer_id)
    if customer is None:
        raise UnknownReference(f"no customer {request.customer_id}", pointer="#/customer_id")
    if customer.status != CustomerStatus.ACTIVE:
        raise CustomerNotActive(f"customer {customer.id} is {customer.status}")
    price = await session.get(PriceRow, request.price_id)
    if price is None:
        raise UnknownReference(f"no price {request.price_id}", pointer="#/price_id")
    product = await session.get_one(ProductRow, price.product_id)
    if not (price.active and product.active):
        raise PriceNotActive(f"price {price.id} of {product.name} is no longer sold")
    if price.currency != customer.currency:
        raise PriceCurrencyMismatch(
            f"price {price.id} is in {price.currency}; customer {customer.id} is billed in "
            f"{customer.currency}",
            pointer="#/price_id",
        )
    support_tier(product.tier)
    partner_id = request.partner_id or customer.partner_id
    if request.partner_id is not None and await session.get(PartnerRow, partner_id) is None:
        raise UnknownReference(f"no partner {request.partner_id}", pointer="#/partner_id")
    return SubscriptionRow(
        id=new_id("subscription"),
        customer_id=customer.id,
        price_id=price.id,
        partner_id=partner_id,
        quantity=request.quantity,
        status=SubscriptionStatus.PENDING,
    )


def _acknowledgement(ordered: Ordered) -> dict[str, Any]:
    return {
        "billing_subscription_id": ordered.billing.id,
        "billing_status": ordered.billing.status.value,
        "latest_invoice_id": ordered.billing.latest_invoice_id,
        "current_period_start": ordered.billing.current_period_start.isoformat(),
        "current_period_end": ordered.billing.current_period_end.isoformat(),
        "deal_registration_id": ordered.deal_registration_id,
    }
