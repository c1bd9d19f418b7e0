"""Tax groups, customers and items: the master data a company's documents refer to.

Each demo product is an item of every company, a service priced per month
(`baseUnitOfMeasure` `MONTH`) in the company's currency. Tests change an item in
place (`book.items`) to make the catalog drift.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from core.currencies import minor_unit_exponent
from sandboxes.business_central.odata import EMPTY_GUID, etag_of, utc_now, wire_datetime
from sandboxes.demo_estate import DEMO_CATALOG, MONTH_UNIT, DemoCompany


@dataclass
class TaxGroup:
    id: str
    code: str
    percent: Decimal
    tax_type: str

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "code": self.code,
            "displayName": f"{self.code.title()} ({self.percent.normalize()}%)",
            "taxType": self.tax_type,
            "lastModifiedDateTime": "2024-01-01T00:00:00Z",
        }


@dataclass
class Customer:
    id: str
    number: str
    display_name: str
    email: str
    currency_code: str
    # " " (not blocked), "Ship", "Invoice" or "All": BC's customerBlocked enum.
    blocked: str = " "
    # Credit Limit (LCY), exposed as `creditLimit` (not in the standard API v1.0); 0: none.
    credit_limit: Decimal = Decimal(0)
    version: int = 1
    modified: datetime = field(default_factory=utc_now)

    @property
    def etag(self) -> str:
        return etag_of(self.id, self.version)

    def wire(self) -> dict[str, Any]:
        return {
            "@odata.etag": self.etag,
            "id": self.id,
            "number": self.number,
            "displayName": self.display_name,
            "type": "Company",
            "phoneNumber": "",
            "email": self.email,
            "website": "",
            "taxLiable": False,
            "currencyCode": self.currency_code,
            "blocked": self.blocked,
            "creditLimit": self.credit_limit,
            "lastModifiedDateTime": wire_datetime(self.modified),
        }


@dataclass
class Item:
    id: str
    number: str
    display_name: str
    unit_price: Decimal
    blocked: bool = False
    unit_of_measure: str = MONTH_UNIT
    tax_group_code: str = "STANDARD"
    modified: datetime = field(default_factory=utc_now)

    def wire(self) -> dict[str, Any]:
        unit_id = str(uuid.uuid5(uuid.UUID(self.id), f"unitOfMeasure/{self.unit_of_measure}"))
        return {
            "id": self.id,
            "number": self.number,
            "displayName": self.display_name,
            "type": "Service",
            "itemCategoryId": EMPTY_GUID,
            "itemCategoryCode": "",
            "blocked": self.blocked,
            "baseUnitOfMeasureId": unit_id,
            "baseUnitOfMeasure": {
                "code": self.unit_of_measure,
                "displayName": self.unit_of_measure.title(),
                "symbol": "",
                "unitConversion": None,
            },
            "gtin": "",
            "inventory": Decimal(0),
            "unitPrice": self.unit_price,
            "priceIncludesTax": False,
            "unitCost": Decimal(0),
            "taxGroupId": EMPTY_GUID,
            "taxGroupCode": self.tax_group_code,
            "lastModifiedDateTime": wire_datetime(self.modified),
        }


def demo_items(company: DemoCompany) -> dict[str, Item]:
    """The demo catalog as the company's items, priced in its currency."""
    items = {}
    for product in DEMO_CATALOG:
        minor = product.monthly_prices.get(company.currency)
        if minor is None:
            continue
        item = Item(
            id=str(uuid.uuid5(uuid.UUID(company.id), f"item/{product.item_number}")),
            number=product.item_number,
            display_name=product.name,
            unit_price=Decimal(minor).scaleb(-minor_unit_exponent(company.currency)),
        )
        items[item.id] = item
    return items
