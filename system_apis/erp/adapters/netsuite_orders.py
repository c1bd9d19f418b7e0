"""NetSuite's credit check and sales orders (`salesOrder` records).

The credit check reads the customer record by external id: `creditHoldOverride` `ON`
is a block, `balance` and `creditLimit` are NetSuite's own. A sales order is created in
one request with all its lines and its `externalId`, pending approval (`A`); NetSuite
refuses a second record with the same external id, and the adapter looks the id up
first, so a retry after a lost answer finds the order. Each line is on the product's
own item, found by its `itemId` among the subsidiary's service and inventory items.
"""

from __future__ import annotations

from urllib.parse import quote

from system_apis.erp.adapters.netsuite_records import NetSuiteRecords
from system_apis.erp.adapters.netsuite_wire import NsCustomerCredit, NsSalesOrder
from system_apis.erp.netsuite_mapping import ns_any_of, ns_is
from system_apis.erp.order_mapping import (
    customer_credit_from_ns,
    sales_order_from_ns,
    sales_order_to_ns,
)
from system_apis.erp.schemas import ErpCustomerCredit, ErpSalesOrder, ErpSalesOrderCreate
from system_apis.errors import BackendBusinessError, BackendNotFound

ITEM_RECORDS = ("serviceSaleItem", "inventoryItem")


class NetSuiteSalesOrders(NetSuiteRecords):
    """Credit standing and sales orders."""

    async def get_customer_credit(
        self, company_id: str, number: str, *, currency: str
    ) -> ErpCustomerCredit:
        operation = "get_customer_credit"
        record = f"/customer/eid:{quote(number, safe='')}"
        customer = self._parse(
            await self._send("GET", record, operation=operation), NsCustomerCredit, operation
        )
        if customer.subsidiary.id != company_id:
            raise BackendNotFound(
                f"{self._client.backend} has no customer {number!r} in subsidiary {company_id}",
                backend=self._client.backend,
                operation=operation,
            )
        return self._mapped(operation, customer_credit_from_ns, customer, number, currency)

    async def find_sales_order(
        self,
        company_id: str,  # noqa: ARG002 (external ids are unique across the account)
        external_document_number: str,
    ) -> ErpSalesOrder | None:
        operation = "find_sales_order"
        found = await self._find_order(external_document_number, operation)
        return None if found is None else await self._canonical_order(found, operation)

    async def create_sales_order(
        self, company_id: str, order: ErpSalesOrderCreate
    ) -> ErpSalesOrder:
        operation = "create_sales_order"
        found = await self._find_order(order.external_document_number, operation)
        if found is None:
            customer = await self._customer_id(order.customer_number, operation)
            body = sales_order_to_ns(
                order,
                company_id=company_id,
                customer_id=customer,
                currency_id=await self._currency_id(order.currency, operation),
                item_ids={
                    number: await self._item_id(company_id, number, operation)
                    for number in sorted({line.item_number for line in order.lines})
                },
                tax_code_ids={
                    code: await self._tax_code_id(company_id, code, operation)
                    for code in sorted({line.tax_code for line in order.lines})
                },
            )
            response = await self._send("POST", "/salesOrder", operation=operation, body=body)
            found = await self._get_order(
                self._created_id(response, "salesOrder", operation), operation
            )
        return await self._canonical_order(found, operation)

    async def get_sales_order(
        self,
        company_id: str,  # noqa: ARG002 (internal ids are unique across the account)
        order_id: str,
    ) -> ErpSalesOrder:
        operation = "get_sales_order"
        return await self._canonical_order(await self._get_order(order_id, operation), operation)

    async def _customer_id(self, number: str, operation: str) -> str:
        record = f"/customer/eid:{quote(number, safe='')}"
        response = await self._send("GET", record, operation=operation)
        return self._parse(response, NsCustomerCredit, operation).id

    async def _item_id(self, company_id: str, number: str, operation: str) -> str:
        """The item sold as `number` in the subsidiary; none is a business error."""
        for record_type in ITEM_RECORDS:
            found = await self._unique_id(
                record_type, operation, ns_is("itemId", number), ns_any_of("subsidiary", company_id)
            )
            if found is not None:
                return found
        raise BackendBusinessError(
            f"{self._client.backend} sells no item {number!r} in subsidiary {company_id}",
            backend=self._client.backend,
            operation=operation,
        )

    async def _find_order(self, external_id: str, operation: str) -> NsSalesOrder | None:
        found = await self._unique_id("salesOrder", operation, ns_is("externalId", external_id))
        return None if found is None else await self._get_order(found, operation)

    async def _get_order(self, order_id: str, operation: str) -> NsSalesOrder:
        return await self._get_expanded("salesOrder", order_id, NsSalesOrder, operation)

    async def _canonical_order(self, order: NsSalesOrder, operation: str) -> ErpSalesOrder:
        customer_number = await self._customer_number(order.entity.id, operation)
        currency = await self._currency_code(order.currency.id, operation)
        return self._mapped(operation, sales_order_from_ns, order, customer_number, currency)
