"""Canonical ⇄ Business Central and NetSuite for credit checks and sales orders: pure
functions."""

from __future__ import annotations

from decimal import Decimal

from core.money import from_decimal, to_decimal
from system_apis.erp.adapters.business_central_wire import (
    BcCustomerCredit,
    BcSalesOrder,
    BcSalesOrderCreate,
    BcSalesOrderLine,
    BcSalesOrderLineCreate,
)
from system_apis.erp.adapters.netsuite_wire import (
    NsCustomerCredit,
    NsRefRequest,
    NsSalesOrder,
    NsSalesOrderCreate,
)
from system_apis.erp.mapping import bc_datetime
from system_apis.erp.netsuite_mapping import ns_item_lines
from system_apis.erp.schemas import (
    ErpCustomerCredit,
    ErpSalesOrder,
    ErpSalesOrderCreate,
    ErpSalesOrderLine,
    ErpSalesOrderStatus,
)

# BC's sales order `status`: `Draft` (the Sales Header's Open), `In Review` (pending
# approval), `Open` (released).
BC_ORDER_STATUS = {
    "Draft": ErpSalesOrderStatus.OPEN,
    "In Review": ErpSalesOrderStatus.OPEN,
    "Open": ErpSalesOrderStatus.RELEASED,
}
BC_ITEM_LINE = "Item"


def customer_credit_from_bc(
    customer: BcCustomerCredit, balance: Decimal | None, currency: str
) -> ErpCustomerCredit:
    """Amounts in `currency` (BC keeps them in the company's own); any block counts."""
    return ErpCustomerCredit(
        number=customer.number,
        currency=currency,
        balance=from_decimal(balance or Decimal(0), currency),
        credit_limit=None
        if not customer.credit_limit
        else from_decimal(customer.credit_limit, currency),
        blocked=(customer.blocked or " ").strip() != "",
    )


def sales_order_to_bc(order: ErpSalesOrderCreate) -> BcSalesOrderCreate:
    return BcSalesOrderCreate(
        external_document_number=order.external_document_number,
        customer_number=order.customer_number,
        currency_code=order.currency,
        order_date=bc_datetime(order.order_date),
        requested_delivery_date=bc_datetime(order.requested_delivery_date),
    )


def sales_order_line_to_bc(
    line: ErpSalesOrderLine, item_id: str, order: ErpSalesOrderCreate
) -> BcSalesOrderLineCreate:
    return BcSalesOrderLineCreate(
        sequence=line.sequence,
        line_type=BC_ITEM_LINE,
        item_id=item_id,
        description=line.description,
        quantity=Decimal(line.quantity),
        unit_price=to_decimal(line.unit_price, order.currency),
        tax_code=line.tax_code,
        shipment_date=bc_datetime(order.requested_delivery_date),
    )


def missing_order_lines(
    present: list[BcSalesOrderLine] | None, wanted: tuple[ErpSalesOrderLine, ...]
) -> list[ErpSalesOrderLine]:
    """Requested lines the order does not have yet, matched by sequence number."""
    sequences = {line.sequence for line in present or ()}
    return [line for line in wanted if line.sequence not in sequences]


def sales_order_from_bc(order: BcSalesOrder) -> ErpSalesOrder:
    """The canonical order; `order` must have been read with its lines expanded."""
    if order.sales_order_lines is None:
        raise ValueError("salesOrderLines were not expanded")
    status = BC_ORDER_STATUS.get(order.status)
    if status is None:
        raise ValueError(f"unknown sales order status {order.status!r}")
    if order.fully_shipped and order.sales_order_lines:
        status = ErpSalesOrderStatus.COMPLETED
    currency = order.currency_code
    return ErpSalesOrder(
        id=order.id,
        number=order.number or None,
        external_document_number=order.external_document_number or None,
        customer_number=order.customer_number or None,
        currency=currency,
        order_date=order.order_date,
        status=status,
        line_count=len(order.sales_order_lines),
        total_excluding_tax=from_decimal(order.total_amount_excluding_tax, currency),
        total_tax=from_decimal(order.total_tax_amount, currency),
        total_including_tax=from_decimal(order.total_amount_including_tax, currency),
    )


# NetSuite's `orderStatus`; D and E (partly fulfilled) are still being worked on.
NS_ORDER_STATUS = {
    "A": ErpSalesOrderStatus.OPEN,
    "B": ErpSalesOrderStatus.RELEASED,
    "D": ErpSalesOrderStatus.RELEASED,
    "E": ErpSalesOrderStatus.RELEASED,
    "F": ErpSalesOrderStatus.RELEASED,
    "G": ErpSalesOrderStatus.COMPLETED,
    "C": ErpSalesOrderStatus.CANCELED,
    "H": ErpSalesOrderStatus.CANCELED,
}
NS_PENDING_APPROVAL = "A"


def customer_credit_from_ns(
    customer: NsCustomerCredit, number: str, currency: str
) -> ErpCustomerCredit:
    hold = customer.credit_hold_override
    return ErpCustomerCredit(
        number=number,
        currency=currency,
        balance=from_decimal(customer.balance or Decimal(0), currency),
        credit_limit=None
        if customer.credit_limit is None
        else from_decimal(customer.credit_limit, currency),
        blocked=hold is not None and hold.id == "ON",
    )


def sales_order_to_ns(
    order: ErpSalesOrderCreate,
    *,
    company_id: str,
    customer_id: str,
    currency_id: str,
    item_ids: dict[str, str],
    tax_code_ids: dict[str, str],
) -> NsSalesOrderCreate:
    return NsSalesOrderCreate(
        external_id=order.external_document_number,
        entity=NsRefRequest(id=customer_id),
        subsidiary=NsRefRequest(id=company_id),
        currency=NsRefRequest(id=currency_id),
        tran_date=order.order_date,
        start_date=order.requested_delivery_date,
        order_status=NsRefRequest(id=NS_PENDING_APPROVAL),
        item=ns_item_lines(
            order.lines, order.currency, tax_code_ids, lambda line: item_ids[line.item_number]
        ),
    )


def sales_order_from_ns(
    order: NsSalesOrder, customer_number: str | None, currency: str
) -> ErpSalesOrder:
    status = NS_ORDER_STATUS.get(order.order_status.id)
    if status is None:
        raise ValueError(f"unknown orderStatus {order.order_status.id!r}")
    return ErpSalesOrder(
        id=order.id,
        number=order.tran_id or None,
        external_document_number=order.external_id or None,
        customer_number=customer_number,
        currency=currency,
        order_date=order.tran_date,
        status=status,
        line_count=len(order.item.items),
        total_excluding_tax=from_decimal(order.subtotal, currency),
        total_tax=from_decimal(order.tax_total, currency),
        total_including_tax=from_decimal(order.total, currency),
    )
