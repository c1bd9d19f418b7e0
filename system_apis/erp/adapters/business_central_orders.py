"""Business Central's credit check and sales orders (`salesOrders` with `salesOrderLines`).

The credit check reads the customer (its `blocked`, and `creditLimit` where the company
exposes it) and its `customerFinancialDetails` (`balance`). A sales order is created
once per external document number, as invoices are: looked up first, then the header,
then each line not there yet (an `Item` line on the product's item, found by number),
so a retry after a lost answer completes the order instead of creating a second one.
"""

from __future__ import annotations

from system_apis.erp.adapters.business_central_base import BusinessCentralBase, odata_query
from system_apis.erp.adapters.business_central_wire import (
    BcCustomerCreditList,
    BcCustomerFinancialDetailList,
    BcItemRefList,
    BcSalesOrder,
    BcSalesOrderLine,
    BcSalesOrderList,
)
from system_apis.erp.mapping import odata_eq
from system_apis.erp.order_mapping import (
    customer_credit_from_bc,
    missing_order_lines,
    sales_order_from_bc,
    sales_order_line_to_bc,
    sales_order_to_bc,
)
from system_apis.erp.schemas import (
    ErpCustomerCredit,
    ErpSalesOrder,
    ErpSalesOrderCreate,
    ErpSalesOrderLine,
)
from system_apis.errors import BackendBusinessError, BackendNotFound

EXPAND_ORDER_LINES = "salesOrderLines"


class BusinessCentralSalesOrders(BusinessCentralBase):
    """Credit standing and sales orders."""

    async def get_customer_credit(
        self, company_id: str, number: str, *, currency: str
    ) -> ErpCustomerCredit:
        operation = "get_customer_credit"
        customers = f"/companies({company_id})/customers"
        query = odata_query(filter=odata_eq("number", number))
        response = await self._send("GET", f"{customers}?{query}", operation=operation)
        found = self._parse(response, BcCustomerCreditList, operation).value
        if not found:
            raise BackendNotFound(
                f"{self._client.backend} has no customer {number!r}",
                backend=self._client.backend,
                operation=operation,
            )
        customer = found[0]
        response = await self._send(
            "GET", f"{customers}({customer.id})/customerFinancialDetails", operation=operation
        )
        details = self._parse(response, BcCustomerFinancialDetailList, operation).value
        balance = details[0].balance if details else None
        return self._mapped(operation, customer_credit_from_bc, customer, balance, currency)

    async def find_sales_order(
        self, company_id: str, external_document_number: str
    ) -> ErpSalesOrder | None:
        operation = "find_sales_order"
        found = await self._find_order(company_id, external_document_number, operation)
        return None if found is None else self._mapped(operation, sales_order_from_bc, found)

    async def create_sales_order(
        self, company_id: str, order: ErpSalesOrderCreate
    ) -> ErpSalesOrder:
        """The order with every line: created, or the one an earlier attempt left completed."""
        operation = "create_sales_order"
        orders = f"/companies({company_id})/salesOrders"
        current = await self._find_order(company_id, order.external_document_number, operation)
        if current is None:
            response = await self._send(
                "POST", orders, operation=operation, body=sales_order_to_bc(order)
            )
            current = self._parse(response, BcSalesOrder, operation)
        missing = missing_order_lines(current.sales_order_lines, order.lines)
        if missing:
            items = await self._item_ids(company_id, missing, operation)
            for line in missing:
                body = sales_order_line_to_bc(line, items[line.item_number], order)
                response = await self._send(
                    "POST",
                    f"{orders}({current.id})/salesOrderLines",
                    operation=operation,
                    body=body,
                )
                self._parse(response, BcSalesOrderLine, operation)
            current = await self._get_order(company_id, current.id, operation)
        return self._mapped(operation, sales_order_from_bc, current)

    async def get_sales_order(self, company_id: str, order_id: str) -> ErpSalesOrder:
        operation = "get_sales_order"
        current = await self._get_order(company_id, order_id, operation)
        return self._mapped(operation, sales_order_from_bc, current)

    async def _item_ids(
        self, company_id: str, lines: list[ErpSalesOrderLine], operation: str
    ) -> dict[str, str]:
        """The id of each line's item by its number; one unknown or blocked is refused."""
        ids = {}
        for number in dict.fromkeys(line.item_number for line in lines):
            query = odata_query(filter=odata_eq("number", number))
            response = await self._send(
                "GET", f"/companies({company_id})/items?{query}", operation=operation
            )
            found = self._parse(response, BcItemRefList, operation).value
            if not found or found[0].blocked:
                raise BackendBusinessError(
                    f"{self._client.backend} sells no item {number!r}"
                    + (" (blocked)" if found else ""),
                    backend=self._client.backend,
                    operation=operation,
                )
            ids[number] = found[0].id
        return ids

    async def _find_order(
        self, company_id: str, external_document_number: str, operation: str
    ) -> BcSalesOrder | None:
        return await self._find_one(
            f"/companies({company_id})/salesOrders",
            BcSalesOrderList,
            "sales orders",
            ("externalDocumentNumber", external_document_number),
            operation,
            expand=EXPAND_ORDER_LINES,
        )

    async def _get_order(self, company_id: str, order_id: str, operation: str) -> BcSalesOrder:
        query = odata_query(expand=EXPAND_ORDER_LINES)
        response = await self._send(
            "GET", f"/companies({company_id})/salesOrders({order_id})?{query}", operation=operation
        )
        return self._parse(response, BcSalesOrder, operation)
