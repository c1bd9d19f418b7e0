"""The sandbox's items: each demo product a service item of every subsidiary selling in
its currency, with a base price per currency, seeded with fixed internal ids (from
`FIRST_ITEM_ID`, apart from the records the sandbox numbers as they are created)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from core.currencies import minor_unit_exponent
from sandboxes.demo_estate import DEMO_CATALOG, DemoCompany
from sandboxes.netsuite.wire import CURRENCIES

FIRST_ITEM_ID = 300
SERVICE_ITEM = "serviceSaleItem"


@dataclass
class ItemRecord:
    id: str
    record_type: str
    item_id: str
    display_name: str
    subsidiary_ids: list[str]
    base_prices: dict[str, Decimal]  # by currency internal id
    sale_unit: str = "Month"
    is_inactive: bool = False
    modified: str = field(default="2024-01-01T00:00:00Z")


def currency_id(code: str) -> str:
    return next(i for i, (c, _) in CURRENCIES.items() if c == code)


def demo_items(subsidiaries: Mapping[str, DemoCompany]) -> dict[str, ItemRecord]:
    items = {}
    for offset, product in enumerate(DEMO_CATALOG):
        record = ItemRecord(
            id=str(FIRST_ITEM_ID + offset),
            record_type=SERVICE_ITEM,
            item_id=product.item_number,
            display_name=product.name,
            subsidiary_ids=[
                key
                for key, company in subsidiaries.items()
                if company.currency in product.monthly_prices
            ],
            base_prices={
                currency_id(code): Decimal(minor).scaleb(-minor_unit_exponent(code))
                for code, minor in product.monthly_prices.items()
            },
        )
        items[record.id] = record
    return items
