"""Sales orders (`salesOrders`) and their item lines, and a customer's financial details.

An order is taken as `Draft` (BC's Open sales header); releasing it (`Open`), shipping it
(`fullyShipped`) and deleting it are done to the state by tests, as a person would in
the ERP. A line must name a sellable item (`itemId`, not blocked), as BC insists.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandboxes.business_central.api import ApiBase
from sandboxes.business_central.books import CompanyBook, add_sales_line
from sandboxes.business_central.documents import ORDER, SalesOrder
from sandboxes.business_central.indexed import Documents
from sandboxes.business_central.master_data import Customer
from sandboxes.business_central.odata import (
    ZERO,
    BcFault,
    BodyField,
    ODataResponse,
    read_body,
)
from sandboxes.business_central.sales_documents import LINE_FIELDS, SalesDocumentsApi

_DATE = BodyField("date", edm="Edm.Date")
_ORDER_LINE_FIELDS = {
    **LINE_FIELDS,
    "itemId": BodyField("text", 36),
    "shipmentDate": _DATE,
}


class SalesOrdersApi(SalesDocumentsApi[SalesOrder]):
    """Sales orders: taken with their lines, never posted here (BC ships and invoices them)."""

    kind = ORDER
    path_parameter = "order_id"
    extra_create_fields = {"requestedDeliveryDate": _DATE}

    def _documents(self, book: CompanyBook) -> Documents[SalesOrder]:
        return book.sales_orders

    def _new(self, **header: Any) -> SalesOrder:
        return SalesOrder(**header)

    def _date_fields(self) -> dict[str, BodyField]:
        return {ORDER.date_property: _DATE}

    def _own_header(
        self, _book: CompanyBook, values: dict[str, Any], customer: Customer, _currency: str
    ) -> dict[str, Any]:
        """BC refuses an order for a customer blocked for everything."""
        if customer.blocked == "All":
            raise BcFault(
                400,
                "Application_DialogException",
                f"You cannot create this type of document when Customer {customer.number} is "
                "blocked with type All",
            )
        return {"requested_delivery_date": values.get("requestedDeliveryDate")}

    async def create_line(self, request: Request) -> Response:
        """An item line: the item must exist and not be blocked."""
        book, order = self._document(request)
        values = await self._line_values(request)
        item_id = str(values.pop("itemId", "")).lower()
        item = book.items.get(item_id)
        if item is None or item.blocked:
            raise BcFault(
                400,
                "Application_DialogException",
                f"Blocked must be equal to 'No' in Item: No.={item.number}"
                if item is not None
                else f"The Item does not exist. Identification fields and values: Id='{item_id}'",
            )
        values.pop("shipmentDate", None)
        line = add_sales_line(book, order, values)
        order.item_ids[line.sequence] = item.id
        order.touch()
        return ODataResponse(line.wire() | {"itemId": item.id}, status_code=201)

    async def _line_values(self, request: Request) -> dict[str, Any]:
        return await read_body(request, f"{self.kind.entity}Line", _ORDER_LINE_FIELDS)


class FinancialDetailsApi(ApiBase):
    """`customers({id})/customerFinancialDetails`: the customer's balance (what its posted
    invoices still owe)."""

    async def list_financial_details(self, request: Request) -> Response:
        book = self._book(request)
        customer = self._customer(book, request.path_params["customer_id"])
        balance = sum(
            (
                invoice.remaining_amount
                for invoice in book.invoices.values()
                if invoice.customer is customer and invoice.status != "Draft"
            ),
            ZERO,
        )
        return ODataResponse(
            {
                "value": [
                    {
                        "id": customer.id,
                        "number": customer.number,
                        "balance": balance,
                        "totalSalesExcludingTax": Decimal(0),
                        "overdueAmount": Decimal(0),
                    }
                ]
            }
        )
