"""Each ERP adapter reads its sandbox's items as `ErpCatalog` items, page by page."""

from __future__ import annotations

from decimal import Decimal

from sandboxes.business_central.master_data import Item
from system_apis.erp.schemas import ErpItem
from tests.support.business_central import DE, bc_harness
from tests.system_apis.erp.harness import netsuite_harness


async def test_business_central_items_are_read_in_pages_with_their_local_prices() -> None:
    bc = bc_harness(page_size=1)
    book = bc.state.books[DE.id]
    extra = Item(
        id="5a1c0de0-0000-4000-8000-0000000000aa",
        number="LG-OLD",
        display_name="Ledgergate Legacy",
        unit_price=Decimal("12.5"),
        blocked=True,
        unit_of_measure="YEAR",
    )
    book.items[extra.id] = extra

    items = [item async for item in bc.adapter.stream_items(DE.id, currency="EUR")]

    assert sorted(items, key=lambda item: item.number) == [
        ErpItem(
            id=next(i.id for i in book.items.values() if i.number == "LG-ENT"),
            number="LG-ENT",
            display_name="Ledgergate Enterprise",
            unit_price=18500,
            blocked=False,
            base_unit_of_measure="MONTH",
        ),
        ErpItem(
            id=extra.id,
            number="LG-OLD",
            display_name="Ledgergate Legacy",
            unit_price=1250,
            blocked=True,
            base_unit_of_measure="YEAR",
        ),
        ErpItem(
            id=next(i.id for i in book.items.values() if i.number == "LG-PRO"),
            number="LG-PRO",
            display_name="Ledgergate Pro",
            unit_price=4500,
            blocked=False,
            base_unit_of_measure="MONTH",
        ),
    ]
    pages = [e for e in bc.recording.exchanges if e.request.url.path.endswith("/items")]
    assert len(pages) == 4  # three of one item, then an empty one


async def test_netsuite_items_are_priced_in_the_subsidiarys_currency() -> None:
    ns = netsuite_harness()
    de = ns.state.subsidiary_id(DE)
    pro = next(i for i in ns.state.items.values() if i.item_id == "LG-PRO")
    pro.is_inactive = True

    us_items = [item async for item in ns.adapter.stream_items(ns.us_subsidiary, currency="USD")]
    de_items = [item async for item in ns.adapter.stream_items(de, currency="EUR")]

    assert {(i.number, i.unit_price, i.blocked) for i in us_items} == {
        ("LG-PRO", 4900, True),
        ("LG-ENT", 19900, False),
    }
    assert {(i.number, i.unit_price) for i in de_items} == {("LG-PRO", 4500), ("LG-ENT", 18500)}
    assert {i.base_unit_of_measure for i in us_items} == {"MONTH"}
    assert {i.display_name for i in de_items} == {"Ledgergate Pro", "Ledgergate Enterprise"}
    queried = ns.requests("GET", "/serviceSaleItem") + ns.requests("GET", "/inventoryItem")
    assert sorted(r.url.params["q"] for r in queried) == sorted(
        [f"subsidiary ANY_OF [{ns.us_subsidiary}]", f"subsidiary ANY_OF [{de}]"] * 2
    )


async def test_a_netsuite_item_of_another_subsidiary_only_is_not_read() -> None:
    ns = netsuite_harness()
    de = ns.state.subsidiary_id(DE)
    pro = next(i for i in ns.state.items.values() if i.item_id == "LG-PRO")
    pro.subsidiary_ids = [de]

    us_items = [item async for item in ns.adapter.stream_items(ns.us_subsidiary, currency="USD")]

    assert [i.number for i in us_items] == ["LG-ENT"]
