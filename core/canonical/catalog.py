"""Products and their prices."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from core.canonical.base import BackendRefs, Versioned


class BillingInterval(StrEnum):
    MONTH = "month"
    YEAR = "year"


class MeterAggregation(StrEnum):
    """How a period's usage of a meter is counted: summed, its largest value, or the
    number of distinct values of one property."""

    SUM = "sum"
    MAX = "max"
    UNIQUE_COUNT = "unique_count"


class CapPolicy(StrEnum):
    """Usage over the period's cap: accepted and flagged (an event tells), or refused."""

    FLAG = "flag"
    REFUSE = "refuse"


class Metering(BaseModel):
    """A metered price's meter and the rules its usage events must keep (quantities as
    decimal strings)."""

    meter: str
    aggregation: MeterAggregation
    unique_property: str | None = Field(
        description="For `unique_count`: the event property whose distinct values count."
    )
    min_quantity: str | None
    max_quantity: str | None
    integer_only: bool
    cap: str | None = Field(description="The entitlement cap per billing period.")
    cap_policy: CapPolicy | None


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
    metering: Metering | None = Field(
        default=None, description="Set on a metered price: what usage it charges for."
    )
