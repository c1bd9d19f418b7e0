"""usage.cap_exceeded: a usage event accepted over its cap; usage.reported: usage set in billing."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from events.schemas.base import EventData


class UsageCapExceeded(EventData):
    event_type = "com.ledgergate.usage.cap_exceeded.v1"

    client_id: str
    usage_event_id: str = Field(description="The caller's id of the usage event.")
    customer_id: str
    subscription_id: str
    price_id: str
    meter: str
    aggregation: str
    period_start: datetime
    period_end: datetime
    cap: str = Field(description="The cap per period, a decimal string.")
    usage: str = Field(description="The period's usage with this event, a decimal string.")


class UsageReported(EventData):
    """A subscription item's usage for a billing period, set in billing by one report pass."""

    event_type = "com.ledgergate.usage.reported.v1"

    customer_id: str
    subscription_id: str
    price_id: str
    meter: str
    period_start: datetime
    period_end: datetime
    report_pass_id: int = Field(description="The pass: the usage events it counted name it.")
    quantity: int = Field(description="Whole units now set in billing for the period.")
    total: str = Field(description="The period's usage now reported, a decimal string.")
    carried: str = Field(
        description="What this pass carried in from periods already invoiced, a decimal string."
    )
    billing_item_id: str = Field(description="The subscription item in billing.")
