"""NetSuite's items as `ErpCatalog`: service and inventory items of a subsidiary.

Items are queried by subsidiary (`subsidiary ANY_OF [id]`), in pages of `limit` from
`offset`, then each is read with its sublists. Its unit price is the base price level
(`priceLevel` 1) of its `price` sublist in the subsidiary's currency; `isInactive` is
what Business Central calls blocked, and `saleUnit` the unit it is priced per.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, Field

from core.money import from_decimal
from system_apis.erp.adapters.netsuite_wire import NsCollection, NsModel, NsRef
from system_apis.erp.netsuite_mapping import ns_any_of
from system_apis.erp.schemas import ErpItem

if TYPE_CHECKING:
    import httpx

    from system_apis.erp.adapters.netsuite_wire import NsRequest

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

ITEM_RECORDS = ("serviceSaleItem", "inventoryItem")
BASE_PRICE_LEVEL = "1"
ITEM_PAGE = 1000


class NsPrice(NsModel):
    price_level: NsRef = Field(alias="priceLevel")
    currency: NsRef
    price: Decimal | None = None


class NsPrices(NsModel):
    items: list[NsPrice] = Field(default_factory=list)


class NsItem(NsModel):
    id: str
    item_id: str = Field(alias="itemId")
    display_name: str | None = Field(default=None, alias="displayName")
    is_inactive: bool = Field(default=False, alias="isInactive")
    sale_unit: NsRef | None = Field(default=None, alias="saleUnit")
    price: NsPrices = Field(default_factory=NsPrices)


def item_from_ns(item: NsItem, currency_id: str, currency: str) -> ErpItem:
    """The item, priced at its base price in the subsidiary's currency."""
    price = next(
        (
            row.price
            for row in item.price.items
            if row.price_level.id == BASE_PRICE_LEVEL and row.currency.id == currency_id
        ),
        None,
    )
    unit = item.sale_unit.ref_name if item.sale_unit else None
    return ErpItem(
        id=item.id,
        number=item.item_id,
        display_name=item.display_name or item.item_id,
        unit_price=None if price is None else from_decimal(price, currency),
        blocked=item.is_inactive,
        base_unit_of_measure=unit.upper() if unit else None,
    )


class NetSuiteCatalog:
    """`ErpCatalog` for the NetSuite adapter, which supplies the requests below."""

    if TYPE_CHECKING:

        async def _send(
            self, method: str, url: str, *, operation: str, body: NsRequest | None = None
        ) -> httpx.Response: ...

        def _parse(self, response: httpx.Response, model: type[M], operation: str) -> M: ...

        async def _get_expanded(
            self, record_type: str, record_id: str, model: type[M], operation: str
        ) -> M: ...

        def _mapped(self, operation: str, convert: Callable[..., T], *args: Any) -> T: ...

        async def _currency_id(self, code: str, operation: str) -> str: ...

    async def stream_items(self, company_id: str, *, currency: str) -> AsyncIterator[ErpItem]:
        operation = "stream_items"
        currency_id = await self._currency_id(currency, operation)
        for record_type in ITEM_RECORDS:
            async for item_id in self._item_ids(record_type, company_id, operation):
                item = await self._get_expanded(record_type, item_id, NsItem, operation)
                yield self._mapped(operation, item_from_ns, item, currency_id, currency)

    async def _item_ids(
        self, record_type: str, company_id: str, operation: str
    ) -> AsyncIterator[str]:
        """The ids of the subsidiary's items of one record type, a page at a time."""
        query = "q=" + quote(ns_any_of("subsidiary", company_id), safe="")
        offset = 0
        while True:
            url = f"/{record_type}?{query}&limit={ITEM_PAGE}&offset={offset}"
            response = await self._send("GET", url, operation=operation)
            page = self._parse(response, NsCollection, operation)
            for found in page.items:
                yield found.id
            offset += len(page.items)
            if not page.has_more or not page.items:
                return
