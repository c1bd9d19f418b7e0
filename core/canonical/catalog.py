"""Products and their prices."""

from __future__ import annotations

from enum import StrEnum

from core.canonical.base import BackendRefs, Versioned


class BillingInterval(StrEnum):
    MONTH = "month"
    YEAR = "year"


class Product(Versioned):
    name: str
    tier: str
    tax_code: str
    active: bool
    refs: BackendRefs


class Price(Versioned):
    product_id: str
    currency: str
    unit_amount: int
    interval: BillingInterval
    active: bool
    refs: BackendRefs
