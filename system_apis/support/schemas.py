"""Canonical support objects, vendor-neutral. Amounts are integer minor units."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from core.money import MAX_MINOR_UNITS, CurrencyCode

Reference = Annotated[str, Field(min_length=1, max_length=40)]


class SupportModel(BaseModel):
    model_config = ConfigDict(frozen=True)


class SupportInput(BaseModel):
    """What a caller sends: unknown fields are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class SupportTier(StrEnum):
    """The support level an entitlement gives, from the product tier the customer bought."""

    ENTERPRISE = "enterprise"
    PRO = "pro"
    STARTER = "starter"


class SupportEntitlementStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class SupportEntitlement(SupportModel):
    id: str
    customer_id: str
    product_id: str
    tier: SupportTier
    status: SupportEntitlementStatus
    granted_at: datetime
    revoked_at: datetime | None


class SupportEntitlementGrant(SupportInput):
    """One active entitlement per customer and product: granting it again is a no-op."""

    product_id: Reference
    tier: SupportTier


class SupportAccountStatus(StrEnum):
    """`suspended`: the desk routes the customer's new cases to no premium queue and flags them."""

    ACTIVE = "active"
    SUSPENDED = "suspended"


class SupportAccount(SupportModel):
    customer_id: str
    status: SupportAccountStatus
    changed_at: datetime | None = Field(description="When the status last changed; none: never.")


class SupportTierChange(SupportInput):
    tier: SupportTier


class CasePriority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class SupportCaseCreate(SupportInput):
    customer_id: Reference
    subject: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)


class SupportCase(SupportModel):
    id: str
    customer_id: str
    subject: str
    status: str = Field(description="The desk's own case status (`open`, `solved`, ...).")
    priority: CasePriority
    entitlement_tier: SupportTier | None = Field(
        description="The tier the priority was derived from; none without an entitlement."
    )
    opened_at: datetime
    first_response_due_at: datetime


class ServiceCreditReason(StrEnum):
    OUTAGE = "outage"
    SLA_BREACH = "sla_breach"
    BILLING_ERROR = "billing_error"
    GOODWILL = "goodwill"


class ServiceCreditStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"


class ServiceCreditCreate(SupportInput):
    """A credit a support agent asks for on a case, against one of the customer's invoices."""

    case_id: Reference
    customer_id: Reference
    invoice_id: Reference
    amount: StrictInt = Field(ge=1, le=MAX_MINOR_UNITS, description="Minor units.")
    currency: CurrencyCode
    reason_code: ServiceCreditReason
    note: str | None = Field(default=None, max_length=500)


class ServiceCredit(SupportModel):
    id: str
    case_id: str
    customer_id: str
    invoice_id: str
    amount: int = Field(description="Minor units.")
    currency: str
    reason_code: ServiceCreditReason
    status: ServiceCreditStatus
    requested_at: datetime
    decided_at: datetime | None
    note: str | None


class ServiceCreditOutcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


class ServiceCreditDecision(SupportInput):
    decision: ServiceCreditOutcome
    note: str | None = Field(default=None, max_length=500)
