"""The gateway's documents against the documents they led to: checks of lineage.

The three-sided comparison (`compare`) matches one document across billing, the gateway
and the ERP by its key. Some documents are checked against *other* documents instead:
a sales order against the invoices its subscriptions were billed with. Each such check
is one function of `LINEAGE_CHECKS`, run after the three-sided comparison, its
differences written with the others. A document that also crosses systems under its own
key (a refund, a dispute's journal) is a `DocumentType` with rows in each side's
`sources` instead; its lineage to the original invoice (the refunded amount within what
was paid, say) is a check here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.documents import InvoiceStatus
from core.models.invoice import InvoiceRow
from core.models.sales_order import SalesOrderLineRow, SalesOrderRow
from process_apis.reconciliation.schemas import (
    CAUSES,
    Cause,
    Difference,
    DifferenceKind,
    DocumentType,
)
from process_apis.reconciliation.sources import Scope

LineageCheck = Callable[[AsyncSession, Scope], Awaitable[list[Difference]]]


async def sales_orders(session: AsyncSession, scope: Scope) -> list[Difference]:
    """The period's sales orders the ERP holds: the ERP's order for the same net amount as
    ours, and, once every line's subscription has its first invoice, those invoices for
    the order's net amount (a proration or a later price is no part of the order)."""
    orders = await session.scalars(
        select(SalesOrderRow)
        .where(
            SalesOrderRow.legal_entity_id == scope.legal_entity_id,
            SalesOrderRow.order_date.between(scope.start, scope.end),
            SalesOrderRow.erp_order_id.is_not(None),
        )
        .order_by(SalesOrderRow.id)
    )
    found = []
    for order in orders:
        invoiced = await _first_invoices_net(session, order.id)
        if order.erp_subtotal is not None and order.erp_subtotal != order.subtotal:
            found.append(_difference(order, Cause.ORDER_IN_ERP, invoiced))
        if invoiced is not None and invoiced != order.subtotal:
            found.append(_difference(order, Cause.ORDER_INVOICED, invoiced))
    return found


async def _first_invoices_net(session: AsyncSession, order_id: str) -> int | None:
    """The net of each line's subscription's first invoice, summed; none until each has one."""
    subscriptions = list(
        await session.scalars(
            select(SalesOrderLineRow.subscription_id).where(
                SalesOrderLineRow.sales_order_id == order_id
            )
        )
    )
    if not subscriptions or None in subscriptions:
        return None
    total = 0
    for subscription_id in subscriptions:
        first = await session.scalar(
            select(InvoiceRow.subtotal)
            .where(
                InvoiceRow.subscription_id == subscription_id,
                InvoiceRow.status != InvoiceStatus.VOID,
            )
            .order_by(InvoiceRow.invoice_date, InvoiceRow.id)
            .limit(1)
        )
        if first is None:
            return None
        total += first
    return total


def _difference(order: SalesOrderRow, cause: Cause, invoiced: int | None) -> Difference:
    return Difference(
        kind=DifferenceKind.AMOUNT_MISMATCH,
        document_type=DocumentType.SALES_ORDER,
        cause=cause,
        explanation=CAUSES[cause],
        key=order.id,
        gateway_id=order.id,
        erp_number=order.erp_order_number,
        currency=order.currency,
        gateway_amount=order.subtotal,
        billing_amount=invoiced,
        erp_amount=order.erp_subtotal,
    )


LINEAGE_CHECKS: tuple[LineageCheck, ...] = (sales_orders,)
