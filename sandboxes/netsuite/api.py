"""The request handlers' shared lookups, and the reference records (currencies,
subsidiaries, tax items)."""

from __future__ import annotations

from datetime import date

from starlette.requests import Request
from starlette.responses import Response

from sandboxes.netsuite.records import CustomerRecord, InvoiceRecord, NetSuiteState
from sandboxes.netsuite.wire import (
    CURRENCIES,
    NsFault,
    NsResponse,
    links_of,
    meets,
    page_of,
    query_conditions,
    ref_of,
)


class ApiBase:
    """The request handlers' shared lookups, bound to one `NetSuiteState`."""

    def __init__(self, state: NetSuiteState) -> None:
        self.state = state

    def _collection(self, request: Request, record_type: str, ids: list[str]) -> NsResponse:
        """One page (`offset`, `limit`) of the matching records' ids, in internal id order."""
        offset, limit = page_of(request)
        ordered = sorted(ids, key=int)
        page = ordered[offset : offset + limit]
        return NsResponse(
            {
                "links": [{"rel": "self", "href": str(request.url)}],
                "count": len(page),
                "hasMore": offset + len(page) < len(ordered),
                "items": [
                    {"links": links_of(request, f"/{record_type}/{i}"), "id": i} for i in page
                ],
                "offset": offset,
                "totalResults": len(ordered),
            }
        )

    def _customer(self, key: str) -> CustomerRecord | None:
        if key.startswith("eid:"):
            external = key.removeprefix("eid:")
            return next(
                (c for c in self.state.customers.values() if c.external_id == external), None
            )
        return self.state.customers.get(key)

    def _currency_of_subsidiary(self, subsidiary: str) -> str:
        code = self.state.subsidiaries[subsidiary].currency
        return next(i for i, (c, _) in CURRENCIES.items() if c == code)

    def _open_for_posting(self, tran_date: date) -> date:
        """`tran_date`, refused when it falls in the closed period."""
        if tran_date < self.state.first_open_day():
            raise NsFault(
                400, "USER_ERROR", f"The period of {tran_date.isoformat()} is closed for posting."
            )
        return tran_date

    def _invoice(self, request: Request) -> InvoiceRecord:
        invoice = self.state.invoices.get(request.path_params["record_id"])
        if invoice is None:
            raise NsFault(404, "NONEXISTENT_ID", "The record instance does not exist.")
        return invoice


class ReferenceApi(ApiBase):
    """Currencies, subsidiaries and sales tax items."""

    async def list_currencies(self, request: Request) -> Response:
        conditions = query_conditions(request, frozenset({"symbol"}))
        ids = [i for i, (code, _) in CURRENCIES.items() if meets(conditions, {"symbol": code})]
        return self._collection(request, "currency", ids)

    async def get_currency(self, request: Request) -> Response:
        currency_id = request.path_params["record_id"]
        if currency_id not in CURRENCIES:
            raise NsFault(404, "NONEXISTENT_ID", "The record instance does not exist.")
        code, name = CURRENCIES[currency_id]
        return NsResponse(
            {
                "links": links_of(request, f"/currency/{currency_id}"),
                "id": currency_id,
                "name": name,
                "symbol": code,
                "isInactive": False,
            }
        )

    async def list_tax_items(self, request: Request) -> Response:
        conditions = query_conditions(request, frozenset({"itemId", "subsidiary"}))
        ids = [
            item.id
            for item in self.state.tax_items.values()
            if meets(conditions, {"itemId": item.item_id, "subsidiary": item.subsidiary_id})
        ]
        return self._collection(request, "salesTaxItem", ids)

    async def get_tax_item(self, request: Request) -> Response:
        item = self.state.tax_items.get(request.path_params["record_id"])
        if item is None:
            raise NsFault(404, "NONEXISTENT_ID", "The record instance does not exist.")
        company = self.state.subsidiaries[item.subsidiary_id]
        return NsResponse(
            {
                "links": links_of(request, f"/salesTaxItem/{item.id}"),
                "id": item.id,
                "itemId": item.item_id,
                "rate": item.rate,
                "subsidiary": ref_of(request, "subsidiary", item.subsidiary_id, company.name),
            }
        )

    async def get_subsidiary(self, request: Request) -> Response:
        subsidiary_id = request.path_params["record_id"]
        company = self.state.subsidiaries.get(subsidiary_id)
        if company is None:
            raise NsFault(404, "NONEXISTENT_ID", "The record instance does not exist.")
        currency_id = self._currency_of_subsidiary(subsidiary_id)
        return NsResponse(
            {
                "links": links_of(request, f"/subsidiary/{subsidiary_id}"),
                "id": subsidiary_id,
                "name": company.code,
                "legalName": company.name,
                "country": company.country,
                "currency": ref_of(request, "currency", currency_id, CURRENCIES[currency_id][1]),
                "isInactive": False,
            }
        )
