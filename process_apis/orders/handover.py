"""The hand-over of a sales order whose service starts to subscription ordering.

In one transaction with the order turning `in_service`, each line becomes a `pending`
subscription (its price, quantity and the order's partner) with a `subscription_order`
run queued due now, and the line keeps the subscription's id: the existing order →
subscription workflow (the worker, or an operator's replay) then carries each out, its
failures in the exception queue like any order's.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.orders import SALES_ORDER_STATUS, SalesOrderStatus
from core.canonical.subscriptions import SubscriptionStatus
from core.ids import new_id
from core.models.base import utcnow
from core.models.sales_order import SalesOrderRow
from core.models.subscription import SubscriptionRow
from core.models.workflow_run import RunStatus
from process_apis.orders.repository import lines_of
from process_apis.runs.engine import Engine
from process_apis.subscriptions.workflow.order import WORKFLOW as SUBSCRIPTION_ORDER

HANDED_OVER_FROM = frozenset({SalesOrderStatus.OPEN, SalesOrderStatus.RELEASED})


def service_started(order: SalesOrderRow, today: date) -> bool:
    return order.status in HANDED_OVER_FROM and order.service_start <= today


async def hand_over(
    session: AsyncSession, engine: Engine, order: SalesOrderRow, *, correlation_id: str | None
) -> list[str]:
    """Order the line's subscriptions (queued runs) and mark the order `in_service`; the
    ids of the runs queued."""
    order.status = SALES_ORDER_STATUS.check(
        SalesOrderStatus(order.status), SalesOrderStatus.IN_SERVICE
    )
    runs = []
    for line in await lines_of(session, order.id):
        if line.subscription_id is not None:
            continue
        subscription = SubscriptionRow(
            id=new_id("subscription"),
            customer_id=order.customer_id,
            price_id=line.price_id,
            partner_id=order.partner_id,
            quantity=line.quantity,
            status=SubscriptionStatus.PENDING,
        )
        session.add(subscription)
        await session.flush()
        line.subscription_id = subscription.id
        run = engine.new_run(
            workflow=SUBSCRIPTION_ORDER,
            subject_id=subscription.id,
            legal_entity_id=order.legal_entity_id,
            params={"sales_order_id": order.id, "sales_order_line_id": line.id},
            correlation_id=correlation_id,
            client_id=f"order:{order.id}",
        )
        run.status = RunStatus.PENDING_RETRY
        run.next_attempt_at = utcnow()
        session.add(run)
        runs.append(run.id)
    return runs
