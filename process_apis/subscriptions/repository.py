"""SQL for subscriptions, and their views."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.subscriptions import Entitlement, Subscription
from core.errors import NotFound
from core.models.price import PriceRow
from core.models.product import ProductRow
from core.models.subscription import SubscriptionRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from process_apis.entitlements.service import subscription_entitlements
from process_apis.runs.schemas import RunRef, RunSummary
from process_apis.subscriptions.schemas import SubscriptionResource, SubscriptionResult

UNFINISHED = (RunStatus.RUNNING, RunStatus.PENDING_RETRY, RunStatus.FAILED)


async def get_subscription(
    session: AsyncSession, subscription_id: str, *, for_update: bool = False
) -> SubscriptionRow:
    query = select(SubscriptionRow).where(SubscriptionRow.id == subscription_id)
    if for_update:
        query = query.with_for_update()
    subscription = await session.scalar(query)
    if subscription is None:
        raise NotFound(f"no subscription {subscription_id}")
    return subscription


async def unfinished_run(
    session: AsyncSession, subscription_id: str, workflows: tuple[str, ...]
) -> WorkflowRunRow | None:
    """A run of `workflows` on the subscription that has not finished, if any."""
    return await session.scalar(
        select(WorkflowRunRow)
        .where(
            WorkflowRunRow.subject_id == subscription_id,
            WorkflowRunRow.workflow.in_(workflows),
            WorkflowRunRow.status.in_(UNFINISHED),
        )
        .order_by(WorkflowRunRow.created_at.desc())
        .limit(1)
    )


async def resource(session: AsyncSession, subscription: SubscriptionRow) -> SubscriptionResource:
    price = await session.get_one(PriceRow, subscription.price_id)
    product = await session.get_one(ProductRow, price.product_id)
    last = await session.scalar(
        select(WorkflowRunRow)
        .where(WorkflowRunRow.subject_id == subscription.id)
        .order_by(WorkflowRunRow.created_at.desc(), WorkflowRunRow.id.desc())
        .limit(1)
    )
    return SubscriptionResource(
        **Subscription.model_validate(subscription).model_dump(),
        product_id=product.id,
        tier=product.tier,
        last_run=None if last is None else RunSummary.model_validate(last),
    )


async def result(session: AsyncSession, subscription_id: str, run: RunRef) -> SubscriptionResult:
    subscription = await get_subscription(session, subscription_id)
    rows = await subscription_entitlements(session, subscription_id)
    return SubscriptionResult(
        subscription=await resource(session, subscription),
        run=run,
        entitlements=[Entitlement.model_validate(row) for row in rows],
    )
