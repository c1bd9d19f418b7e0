"""Request and response bodies of `/v1/orders`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field

from core.canonical.base import InputModel, OutputModel
from core.canonical.orders import SalesOrderStatus
from core.ids import id_pattern
from process_apis.runs.schemas import RunRef, RunSummary

Quantity = Annotated[int, Field(ge=1, le=10_000, description="Seats or units.")]


class SalesOrderLineCreate(InputModel):
    price_id: str = Field(
        pattern=id_pattern("price"),
        description="An active, flat price in the customer's currency whose product names "
        "an ERP item.",
    )
    quantity: Quantity = 1


class SalesOrderCreate(InputModel):
    """A quote the customer accepted in the CRM."""

    quote_id: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$",
        description="The CRM's quote: one order per quote.",
        examples=["Q-2026-1042"],
    )
    customer_id: str = Field(pattern=id_pattern("customer"))
    service_start: date = Field(
        description="When the service starts: from that day the order's subscriptions are "
        "ordered (at once when it is today or earlier)."
    )
    partner_id: str | None = Field(
        default=None,
        pattern=id_pattern("partner"),
        description="The partner to credit; defaults to the customer's attributed partner.",
    )
    lines: list[SalesOrderLineCreate] = Field(min_length=1, max_length=50)


class SalesOrderLine(OutputModel):
    id: str
    sequence: int
    price_id: str
    product_id: str
    description: str
    quantity: int
    unit_amount: int = Field(description="Minor units.")
    amount: int = Field(description="Net, minor units.")
    tax_code: str
    erp_item: str = Field(description="The ERP item the product is mapped to.")
    subscription_id: str | None = Field(
        description="The subscription this line became once the service started."
    )


class ErpSalesOrderRef(OutputModel):
    id: str
    number: str | None
    status: str | None = Field(description="`open`, `released`, `completed` or `canceled`.")
    subtotal: int | None
    tax: int | None
    total: int | None
    synced_at: datetime | None = Field(description="When the ERP order was last read.")


class SalesOrder(OutputModel):
    id: str
    quote_id: str
    customer_id: str
    legal_entity_id: str
    partner_id: str | None
    status: SalesOrderStatus = Field(
        description="`pending`, `held` (credit, waiting for finance), `rejected`, `open`, "
        "`released`, `in_service` (its subscriptions are ordered), `completed`, `canceled`."
    )
    currency: str
    order_date: date
    service_start: date
    subtotal: int = Field(description="Net amount of the lines, minor units.")
    lines: list[SalesOrderLine]
    erp_order: ErpSalesOrderRef | None = Field(description="The ERP's sales order, once created.")
    version: int
    created_at: datetime
    updated_at: datetime
    last_run: RunSummary | None = Field(description="The order's latest `sales_order` run.")


class SalesOrderResult(OutputModel):
    order: SalesOrder
    run: RunRef
