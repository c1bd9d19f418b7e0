"""usage.cap_exceeded: a usage event accepted over its meter's cap for the period."""

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
