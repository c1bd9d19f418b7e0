"""Sales order records: list by external id, create with their item sublist, read.

A line names a real item (the product's service item, sold in the customer's subsidiary
and active); a customer on credit hold (`creditHoldOverride` `ON`) takes no order. An
order is created pending approval (`A`) unless `orderStatus` says otherwise; what
happens next (approval, fulfilment, billing, cancellation) is done to the state by
tests, as a person would in the account.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandboxes.netsuite.invoices import InvoicesApi
from sandboxes.netsuite.records import InvoiceLine, SalesOrderRecord
from sandboxes.netsuite.wire import (
    CURRENCIES,
    NsFault,
    NsResponse,
    created,
    date_value,
    invalid_ref,
    links_of,
    meets,
    query_conditions,
    read_body,
    ref_id,
    ref_of,
    text_value,
)

ORDER_STATUSES = {
    "A": "Pending Approval",
    "B": "Pending Fulfillment",
    "C": "Cancelled",
    "D": "Partially Fulfilled",
    "E": "Pending Billing/Partially Fulfilled",
    "F": "Pending Billing",
    "G": "Billed",
    "H": "Closed",
}
_ORDER_FIELDS = frozenset(
    {"externalId", "entity", "subsidiary", "currency", "tranDate", "startDate", "orderStatus"}
    | {"item"}
)
_ORDER_LINE_FIELDS = frozenset({"item", "description", "quantity", "rate", "taxCode"})


class SalesOrdersApi(InvoicesApi):
    """Sales order records."""

    async def list_sales_orders(self, request: Request) -> Response:
        conditions = query_conditions(request, frozenset({"externalId", "tranId"}))
        ids = [
            order.id
            for order in self.state.sales_orders.values()
            if meets(conditions, {"externalId": order.external_id, "tranId": order.tran_id})
        ]
        return self._collection(request, "salesOrder", ids)

    async def create_sales_order(self, request: Request) -> Response:
        values = await read_body(request, _ORDER_FIELDS)
        external = text_value(values, "externalId", "")
        if external and self.state.sales_order(external) is not None:
            raise NsFault(400, "USER_ERROR", "A record with the same external ID already exists.")
        customer = self.state.customers.get(ref_id(values, "entity"))
        if customer is None:
            raise invalid_ref("entity", ref_id(values, "entity"))
        if customer.credit_hold == "ON":
            raise NsFault(
                400,
                "USER_ERROR",
                f"Customer {customer.entity_id} is on credit hold; no sales order can be entered.",
            )
        subsidiary = customer.subsidiary_id
        if "subsidiary" in values and ref_id(values, "subsidiary") != subsidiary:
            raise NsFault(400, "USER_ERROR", "The customer does not belong to the subsidiary.")
        currency = ref_id(values, "currency") if "currency" in values else customer.currency_id
        if currency != customer.currency_id:
            raise invalid_ref("currency", currency)
        status = ref_id(values, "orderStatus") if "orderStatus" in values else "A"
        if status not in ("A", "B"):
            raise invalid_ref("orderStatus", status)
        lines, item_ids = self._order_lines(values.get("item"), subsidiary, currency)
        tran_date = date_value(values, "tranDate", self.state.today or date.today())
        order = SalesOrderRecord(
            id=self.state.new_id(),
            external_id=external,
            tran_id=f"SO{self.state.next_tran_number}",
            customer=customer,
            currency_id=currency,
            tran_date=tran_date,
            start_date=date_value(values, "startDate", tran_date),
            order_status=status,
            lines=lines,
            item_ids=item_ids,
        )
        self.state.next_tran_number += 1
        self.state.sales_orders[order.id] = order
        return created(request, "salesOrder", order.id)

    async def get_sales_order(self, request: Request) -> Response:
        order = self.state.sales_orders.get(request.path_params["record_id"])
        if order is None:
            raise NsFault(404, "NONEXISTENT_ID", "The record instance does not exist.")
        path = f"/salesOrder/{order.id}"
        items = [
            {
                "links": [],
                "line": line.line,
                "item": ref_of(request, "serviceSaleItem", item_id, "Service item"),
                "description": line.description,
                "quantity": line.quantity,
                "rate": line.rate,
                "amount": line.amount,
                "taxCode": ref_of(request, "salesTaxItem", line.tax_item.id, line.tax_item.item_id),
            }
            for line, item_id in zip(order.lines, order.item_ids, strict=True)
        ]
        expand = request.query_params.get("expandSubResources") == "true"
        sublist: dict[str, Any] = {"links": links_of(request, f"{path}/item")}
        if expand:
            sublist |= {"items": items, "count": len(items), "hasMore": False, "offset": 0}
            sublist["totalResults"] = len(items)
        currency_name = CURRENCIES[order.currency_id][1]
        return NsResponse(
            {
                "links": links_of(request, path),
                "id": order.id,
                "externalId": order.external_id,
                "tranId": order.tran_id,
                "tranDate": order.tran_date.isoformat(),
                "startDate": None if order.start_date is None else order.start_date.isoformat(),
                "entity": ref_of(
                    request, "customer", order.customer.id, order.customer.company_name
                ),
                "currency": ref_of(request, "currency", order.currency_id, currency_name),
                "orderStatus": {
                    "id": order.order_status,
                    "refName": ORDER_STATUSES[order.order_status],
                },
                "subtotal": order.subtotal,
                "taxTotal": order.tax_total,
                "total": order.total,
                "lastModifiedDate": order.modified,
                "item": sublist,
            }
        )

    def _order_lines(
        self, sublist: Any, subsidiary: str, currency: str
    ) -> tuple[list[InvoiceLine], list[str]]:
        if not isinstance(sublist, dict) or not isinstance(sublist.get("items"), list):
            raise NsFault(400, "USER_ERROR", 'A sales order needs an item sublist {"items": []}.')
        if not sublist["items"]:
            raise NsFault(
                400, "USER_ERROR", "You must enter at least one line item for this transaction."
            )
        lines, item_ids = [], []
        for number, raw in enumerate(sublist["items"], start=1):
            if not isinstance(raw, dict) or set(raw) - _ORDER_LINE_FIELDS:
                raise NsFault(400, "INVALID_CONTENT", f"Invalid field name in item line {number}.")
            item = self.state.items.get(ref_id(raw, "item"))
            if item is None or item.is_inactive or subsidiary not in item.subsidiary_ids:
                raise invalid_ref("item", ref_id(raw, "item"))
            lines.append(self._priced_line(raw, number, subsidiary, CURRENCIES[currency][0]))
            item_ids.append(item.id)
        return lines, item_ids
