"""Reading sales orders and their lines, and the answer a caller gets."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from core.models.sales_order import SalesOrderLineRow, SalesOrderRow
from core.models.workflow_run import WorkflowRunRow
from process_apis.orders.schemas import (
    ErpSalesOrderRef,
    SalesOrder,
    SalesOrderLine,
    SalesOrderResult,
)
from process_apis.runs.repository import latest_run
from process_apis.runs.schemas import RunRef, RunSummary

WORKFLOW = "sales_order"


async def get_order(
    session: AsyncSession, order_id: str, *, for_update: bool = False
) -> SalesOrderRow:
    query = select(SalesOrderRow).where(SalesOrderRow.id == order_id)
    if for_update:
        query = query.with_for_update()
    order = await session.scalar(query)
    if order is None:
        raise NotFound(f"no sales order {order_id}")
    return order


async def order_by_quote(session: AsyncSession, quote_ref: str) -> SalesOrderRow | None:
    return await session.scalar(select(SalesOrderRow).where(SalesOrderRow.quote_ref == quote_ref))


async def lines_of(session: AsyncSession, order_id: str) -> list[SalesOrderLineRow]:
    rows = await session.scalars(
        select(SalesOrderLineRow)
        .where(SalesOrderLineRow.sales_order_id == order_id)
        .order_by(SalesOrderLineRow.sequence)
    )
    return list(rows)


async def resource(session: AsyncSession, order: SalesOrderRow) -> SalesOrder:
    run: WorkflowRunRow | None = await latest_run(session, workflow=WORKFLOW, subject_id=order.id)
    erp = (
        None
        if order.erp_order_id is None
        else ErpSalesOrderRef(
            id=order.erp_order_id,
            number=order.erp_order_number,
            status=order.erp_status,
            subtotal=order.erp_subtotal,
            tax=order.erp_tax,
            total=order.erp_total,
            synced_at=order.synced_at,
        )
    )
    return SalesOrder(
        id=order.id,
        quote_id=order.quote_ref,
        customer_id=order.customer_id,
        legal_entity_id=order.legal_entity_id,
        partner_id=order.partner_id,
        status=order.status,
        currency=order.currency,
        order_date=order.order_date,
        service_start=order.service_start,
        subtotal=order.subtotal,
        lines=[SalesOrderLine.model_validate(line) for line in await lines_of(session, order.id)],
        erp_order=erp,
        version=order.version,
        created_at=order.created_at,
        updated_at=order.updated_at,
        last_run=None if run is None else RunSummary.model_validate(run),
    )


async def result(session: AsyncSession, order_id: str, run: RunRef) -> SalesOrderResult:
    return SalesOrderResult(
        order=await resource(session, await get_order(session, order_id)), run=run
    )
