"""Tax groups and customers: the master data a company's documents refer to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sandboxes.business_central.odata import etag_of, utc_now, wire_datetime


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
            "blocked": " ",
            "lastModifiedDateTime": wire_datetime(self.modified),
        }
