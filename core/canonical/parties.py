"""Legal entities, partners and customers."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import EmailStr, Field

from core.canonical.base import (
    BackendRefs,
    Code,
    InputModel,
    OutputModel,
    ShortText,
    Versioned,
)
from core.money import CurrencyCode
from core.status import StatusMachine


class ClosedPeriodPolicy(StrEnum):
    """What an invoice posting does when its date falls in a closed accounting period."""

    REJECT = "reject"
    ROLL_FORWARD = "roll_forward"


class PeriodStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class AccountingPeriod(OutputModel):
    id: str
    starts_on: date
    ends_on: date
    status: PeriodStatus


class LegalEntity(Versioned):
    code: str
    name: str
    country: str
    functional_currency: str
    closed_period_policy: ClosedPeriodPolicy
    erp_company_id: str
    periods: list[AccountingPeriod] = []


class PartnerStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


PARTNER_STATUS = StatusMachine[PartnerStatus](
    "partner",
    {
        PartnerStatus.ACTIVE: frozenset({PartnerStatus.SUSPENDED, PartnerStatus.TERMINATED}),
        PartnerStatus.SUSPENDED: frozenset({PartnerStatus.ACTIVE, PartnerStatus.TERMINATED}),
    },
)


class Partner(Versioned):
    name: str
    status: PartnerStatus
    commission_plan: str
    refs: BackendRefs


class CustomerStatus(StrEnum):
    ACTIVE = "active"
    BLOCKED = "blocked"
    ARCHIVED = "archived"


CUSTOMER_STATUS = StatusMachine[CustomerStatus](
    "customer",
    {
        CustomerStatus.ACTIVE: frozenset({CustomerStatus.BLOCKED, CustomerStatus.ARCHIVED}),
        CustomerStatus.BLOCKED: frozenset({CustomerStatus.ACTIVE, CustomerStatus.ARCHIVED}),
    },
)


class CustomerCreate(InputModel):
    name: ShortText = Field(examples=["Acme Robotics Inc."])
    email: EmailStr = Field(examples=["billing@acme.example"])
    legal_entity_id: str = Field(description="The legal entity that bills this customer.")
    currency: CurrencyCode
    partner_id: str | None = Field(
        default=None, description="Partner the customer is attributed to."
    )
    erp_number: Code | None = Field(
        default=None, description="Customer number in the ERP; derived from the id when omitted."
    )


class Customer(Versioned):
    name: str
    email: str
    legal_entity_id: str
    currency: str
    partner_id: str | None
    status: CustomerStatus
    erp_number: str
    refs: BackendRefs
