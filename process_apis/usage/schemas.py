"""What a platform sends as usage, and the per-event answer it gets back."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from core.canonical.base import InputModel
from core.ids import id_pattern
from core.problems import Problem
from core.quantity import Quantity

MAX_BATCH = 1000
MAX_PROPERTIES = 20

PROPERTIES_DESCRIPTION = (
    "Up to 20 properties named by letters, digits and `_.-` (up to 40 characters), each a "
    "string (up to 200 characters), an integer or a boolean."
)
PropertyValue = Annotated[str, StringConstraints(max_length=200)] | StrictInt | StrictBool
PropertyName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,40}$")]


class UsageEventIn(InputModel):
    """One usage event. Exactly one of `customer_id` and `subscription_id`."""

    id: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$",
        description="The caller's id of the event: its de-duplication key, per client.",
        examples=["evt-2026-12-06-000001"],
    )
    customer_id: str | None = Field(default=None, pattern=id_pattern("customer"))
    subscription_id: str | None = Field(default=None, pattern=id_pattern("subscription"))
    meter: str = Field(pattern=r"^[a-z][a-z0-9_.-]{0,59}$", examples=["api_calls"])
    quantity: Quantity
    timestamp: AwareDatetime = Field(description="When the usage happened (ISO 8601 instant).")
    properties: Annotated[
        dict[PropertyName, PropertyValue],
        # Described in words: the contract linter reads a schema's keys under a field
        # called `properties` as property names.
        WithJsonSchema({"type": "object", "description": PROPERTIES_DESCRIPTION}),
    ] = Field(default_factory=dict, max_length=MAX_PROPERTIES)

    @model_validator(mode="after")
    def _one_target(self) -> UsageEventIn:
        if (self.customer_id is None) == (self.subscription_id is None):
            raise ValueError("name exactly one of customer_id and subscription_id")
        return self


# Events are validated one by one, so a bad event is answered in its place rather than
# failing the batch: the request schema takes any object as an event, and says in words
# what each must be (`UsageEventIn`).
EVENT_DESCRIPTION = (
    "One usage event, checked on its own (a bad one is rejected in its place in the answer): "
    "`id` (the caller's id, up to 100 characters of letters, digits and `._:-`: the "
    "de-duplication key, per client), exactly one of `customer_id` and `subscription_id`, "
    "`meter`, `quantity` (a non-negative integer, or a decimal string with at most 6 "
    "fractional digits; never a JSON number with a fraction), `timestamp` (an ISO 8601 "
    "instant with its offset) and optional `properties` (up to 20: strings up to 200 "
    "characters, integers, booleans)."
)
EVENT_EXAMPLE = {
    "id": "evt-2026-12-06-000001",
    "subscription_id": "sub_01jd0000000000000000000000",
    "meter": "api_calls",
    "quantity": 3,
    "timestamp": "2026-12-06T07:00:00Z",
    "properties": {"region": "eu"},
}
EventItem = Annotated[
    dict[str, Any],
    WithJsonSchema(
        {"type": "object", "description": EVENT_DESCRIPTION, "examples": [EVENT_EXAMPLE]}
    ),
]


class UsageBatch(InputModel):
    events: list[EventItem] = Field(
        min_length=1, max_length=MAX_BATCH, description="Up to 1,000 usage events."
    )


class UsageOutcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


class UsageEventResult(BaseModel):
    index: int = Field(description="The event's position in the batch.")
    id: str | None = Field(description="The event's id, when it had a readable one.")
    outcome: UsageOutcome
    subscription_id: str | None = None
    period_start: datetime | None = Field(
        default=None, description="The billing period the event counts in."
    )
    period_end: datetime | None = None
    late: bool = Field(
        default=False,
        description="It arrived after its period's grace window: kept, carried to a later invoice.",
    )
    flagged: bool = Field(default=False, description="Accepted over the meter's cap.")
    problem: Problem | None = Field(default=None, description="Why it was rejected.")


class UsageBatchResult(BaseModel):
    accepted: int
    duplicate: int
    rejected: int
    results: list[UsageEventResult]


class CarriedIn(BaseModel):
    """Usage of an earlier period that reached the gateway after that period was invoiced."""

    period_start: datetime = Field(description="The period the events belong to.")
    events: int = Field(description="How many of its events this period's report carried.")


class UsagePeriodStatus(StrEnum):
    UNREPORTED = "unreported"
    OPEN = "open"
    CLOSED = "closed"


class UsageItemPeriod(BaseModel):
    """One subscription item's usage in one billing period: ingested, reported, invoiced."""

    price_id: str = Field(description="The metered price: the subscription item.")
    meter: str
    aggregation: str
    period_start: datetime
    period_end: datetime
    status: UsagePeriodStatus = Field(
        description="`open`: reported while billing's period runs; `closed`: billing has "
        "invoiced the period; `unreported`: nothing sent to billing yet."
    )
    events: int = Field(description="Distinct usage events of the period.")
    ingested: str = Field(description="The period's usage over all its events, a decimal string.")
    counted: str = Field(
        description="Of that, what this period's report counted (the rest was carried to a "
        "later period's, or waits for the next report)."
    )
    carried_in: list[CarriedIn] = Field(
        description="Earlier periods' late usage this period's report carries."
    )
    carried_in_total: str = Field(description="What was carried in, a decimal string.")
    reported: str = Field(description="The total billing holds for the period: counted + carried.")
    reported_quantity: int = Field(description="`reported` in whole units, as billing takes it.")
    invoice_id: str | None = Field(description="Billing's invoice that charged the period.")
    invoiced_quantity: int | None = Field(
        description="The quantity that invoice charged for the item (None: not yet invoiced)."
    )


class SubscriptionUsage(BaseModel):
    subscription_id: str
    periods: list[UsageItemPeriod] = Field(description="Per item and period, oldest first.")
