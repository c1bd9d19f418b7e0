"""Keeping sales orders in step with the ERP: the worker reads each open order back every
`LEDGERGATE_ORDER_SYNC_SECONDS`, moves its normalized status (released, completed,
canceled in the ERP) and hands it over to subscription ordering once its service starts.

Each order is read with no transaction open and changed in a short one of its own; an
ERP that cannot be reached leaves the order as it is until the next pass. A BC order
deleted in the ERP reads as not found: canceled, unless its service has started (its
subscriptions carry on; the ERP's status is kept on the order for reconciliation).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select

from core.canonical.orders import SALES_ORDER_STATUS, SYNCED, SalesOrderStatus
from core.models.base import utcnow
from core.models.legal_entity import LegalEntityRow
from core.models.sales_order import SalesOrderRow
from events.outbox import record
from events.schemas.order import OrderStatusChanged, order_event
from process_apis.deps import ProcessContext
from process_apis.orders.handover import hand_over, service_started
from process_apis.orders.workflow import FROM_ERP, SalesOrderWorkflow
from system_apis.erp.schemas import ErpSalesOrder, ErpSalesOrderStatus
from system_apis.errors import BackendError, BackendNotFound

logger = logging.getLogger(__name__)

BATCH = 100


@dataclass(frozen=True)
class _Due:
    order_id: str
    company_id: str
    erp_order_id: str


@dataclass
class SyncReport:
    read: int = 0
    changed: int = 0
    handed_over: int = 0


class OrderStatusSync:
    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        self.engine = SalesOrderWorkflow(context).engine

    async def run_once(self) -> SyncReport:
        """Read the orders due back from the ERP and apply what changed."""
        report = SyncReport()
        for due in await self._due():
            try:
                erp_order: ErpSalesOrder | None = await self.context.erp.get_sales_order(
                    due.company_id, due.erp_order_id
                )
            except BackendNotFound:
                erp_order = None
            except BackendError as error:
                logger.info(
                    "order.sync_failed", extra={"order_id": due.order_id, "error": str(error)}
                )
                continue
            report.read += 1
            changed, handed = await self._apply(due.order_id, erp_order)
            report.changed += changed
            report.handed_over += handed
        return report

    async def _due(self) -> list[_Due]:
        stale = utcnow() - timedelta(seconds=self.context.settings.order_sync_seconds)
        async with self.context.sessionmaker() as session:
            rows = await session.execute(
                select(SalesOrderRow.id, LegalEntityRow.erp_company_id, SalesOrderRow.erp_order_id)
                .join(LegalEntityRow, LegalEntityRow.id == SalesOrderRow.legal_entity_id)
                .where(
                    SalesOrderRow.status.in_(SYNCED),
                    SalesOrderRow.erp_order_id.is_not(None),
                    or_(SalesOrderRow.synced_at.is_(None), SalesOrderRow.synced_at <= stale),
                )
                .order_by(SalesOrderRow.synced_at)
                .limit(BATCH)
            )
            return [_Due(order_id, company, erp_id) for order_id, company, erp_id in rows if erp_id]

    async def _apply(self, order_id: str, erp_order: ErpSalesOrder | None) -> tuple[bool, bool]:
        """The ERP's view on the order, in one transaction; (status changed, handed over)."""
        async with self.context.sessionmaker.begin() as session:
            order = await session.get_one(SalesOrderRow, order_id, with_for_update=True)
            previous = SalesOrderStatus(order.status)
            erp_status = ErpSalesOrderStatus.CANCELED if erp_order is None else erp_order.status
            order.erp_status = erp_status.value
            order.synced_at = utcnow()
            if erp_order is not None:
                order.erp_subtotal = erp_order.total_excluding_tax
                order.erp_tax = erp_order.total_tax
                order.erp_total = erp_order.total_including_tax
            wanted = FROM_ERP[erp_status]
            if wanted != previous and SALES_ORDER_STATUS.can(previous, wanted):
                order.status = wanted
            handed = service_started(order, self.context.today())
            if handed:
                await hand_over(session, self.engine, order, correlation_id=None)
            await session.flush()
            if order.status != previous:
                await record(
                    session,
                    order_event(
                        OrderStatusChanged,
                        order,
                        fact=(order.id, str(order.version)),
                        partner_id=order.partner_id,
                        previous_status=previous.value,
                    ),
                )
            return order.status != previous, handed
