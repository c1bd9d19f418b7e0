"""Service and inventory items: query by subsidiary, read with their sublists."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandboxes.netsuite.api import ApiBase
from sandboxes.netsuite.catalog import ItemRecord
from sandboxes.netsuite.wire import (
    CURRENCIES,
    Condition,
    NsFault,
    NsResponse,
    links_of,
    query_conditions,
)

BASE_PRICE = ("1", "Base Price")
ITEM_RECORD_TYPES = ("serviceSaleItem", "inventoryItem")


class ItemsApi(ApiBase):
    """`/serviceSaleItem` and `/inventoryItem`: the record type is the path's first segment."""

    async def list_items(self, request: Request) -> Response:
        record_type = _record_type(request)
        conditions = query_conditions(request, frozenset({"itemId", "subsidiary"}))
        ids = [
            item.id
            for item in self.state.items.values()
            if item.record_type == record_type and all(_meets(item, c) for c in conditions)
        ]
        return self._collection(request, record_type, ids)

    async def get_item(self, request: Request) -> Response:
        item = self.state.items.get(request.path_params["record_id"])
        if item is None or item.record_type != _record_type(request):
            raise NsFault(404, "NONEXISTENT_ID", "The record instance does not exist.")
        expand = request.query_params.get("expandSubResources") == "true"
        return NsResponse(self._wire(request, item, expand=expand))

    def _wire(self, request: Request, item: ItemRecord, *, expand: bool) -> dict[str, Any]:
        path = f"/{item.record_type}/{item.id}"
        body: dict[str, Any] = {
            "links": links_of(request, path),
            "id": item.id,
            "itemId": item.item_id,
            "displayName": item.display_name,
            "isInactive": item.is_inactive,
            "itemType": {"id": "Service", "refName": "Service"},
            "saleUnit": {"id": "1", "refName": item.sale_unit},
            "lastModifiedDate": item.modified,
        }
        for sublist in ("subsidiary", "price"):
            body[sublist] = {"links": links_of(request, f"{path}/{sublist}")}
        if expand:
            body["subsidiary"]["items"] = [
                {"id": key, "refName": self.state.subsidiaries[key].name}
                for key in item.subsidiary_ids
            ]
            body["price"]["items"] = [
                {
                    "priceLevel": {"id": BASE_PRICE[0], "refName": BASE_PRICE[1]},
                    "currency": {"id": currency, "refName": CURRENCIES[currency][1]},
                    "price": price,
                }
                for currency, price in item.base_prices.items()
            ]
        return body


def _record_type(request: Request) -> str:
    return request.url.path.rstrip("/").split("/")[-2 if "record_id" in request.path_params else -1]


def _meets(item: ItemRecord, condition: Condition) -> bool:
    """An item belongs to several subsidiaries: `ANY_OF` asks for any of them."""
    name, _operator, wanted = condition
    if name == "subsidiary":
        return isinstance(wanted, frozenset) and bool(wanted & set(item.subsidiary_ids))
    return item.item_id == wanted
