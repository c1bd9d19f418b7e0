"""Items: list and read (the catalog is seeded in `master_data.demo_items`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from sandboxes.business_central.api import ApiBase
from sandboxes.business_central.master_data import Item
from sandboxes.business_central.odata import BcFault, Filterable, ODataResponse, select_properties

_ITEM_PROPERTIES: Filterable[Item] = {"number": lambda item: item.number}


class ItemsApi(ApiBase):
    """Items: list and read."""

    async def list_items(self, request: Request) -> Response:
        book = self._book(request)
        items = select_properties(request, "item", book.items.values(), _ITEM_PROPERTIES)
        return ODataResponse({"value": [item.wire() for item in items]})

    async def get_item(self, request: Request) -> Response:
        book = self._book(request)
        item_id = request.path_params["item_id"].lower()
        item = book.items.get(item_id)
        if item is None:
            raise BcFault(
                404,
                "Internal_RecordNotFound",
                f"The Item does not exist. Identification fields and values: Id='{item_id}'",
            )
        return ODataResponse(item.wire())
