"""Canonical CRM / channel objects, vendor-neutral.

Partners and customers are addressed by Ledgergate's own ids (`prt_...`, `cus_...`),
which the CRM keeps as the records' external keys. Commission rates are integer basis
points (1 bp = 0.01 %), never floats.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

BasisPoints = Annotated[int, Field(ge=0, le=10_000, description="1 bp = 0.01 %.", examples=[2000])]
ProductTier = Annotated[
    str, Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_-]*$", examples=["pro"])
]
PlanCode = Annotated[
    str,
    Field(min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9_-]*$", examples=["reseller-20"]),
]


class CrmModel(BaseModel):
    model_config = ConfigDict(frozen=True)


class CrmInput(BaseModel):
    """What a caller sends: unknown fields are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class CrmAccountStatus(StrEnum):
    """A customer account's standing in the CRM: `suspended` while unpaid (dunning)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"


class CrmAccount(CrmModel):
    customer_id: str
    status: CrmAccountStatus
    changed_at: datetime | None


class CrmPartnerStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


class CrmPartnerTier(StrEnum):
    """The partner's programme level in the channel (not the product tier it sells)."""

    REGISTERED = "registered"
    SILVER = "silver"
    GOLD = "gold"


class CrmPartner(CrmModel):
    id: str = Field(description="Ledgergate's partner id, the CRM record's external key.")
    name: str
    status: CrmPartnerStatus
    tier: CrmPartnerTier
    commission_plan: str = Field(description="Code of the partner's commission plan.")
    updated_at: datetime


class CrmRate(CrmModel):
    product_tier: ProductTier
    rate_bps: BasisPoints


def _distinct_tiers(rates: tuple[CrmRate, ...]) -> tuple[CrmRate, ...]:
    tiers = [rate.product_tier for rate in rates]
    if len(set(tiers)) != len(tiers):
        raise ValueError("a rate card has one rate per product tier")
    return rates


class CrmRateCardVersion(CrmModel):
    """The rates of a plan from `effective_from` until the next version takes over."""

    version: int = Field(ge=1)
    effective_from: date
    rates: tuple[CrmRate, ...]


class CrmRateCardVersionCreate(CrmInput):
    effective_from: date = Field(description="After the plan's latest version's date.")
    rates: tuple[CrmRate, ...] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _one_rate_per_tier(self) -> CrmRateCardVersionCreate:
        _distinct_tiers(self.rates)
        return self


class CrmCommissionPlan(CrmModel):
    code: str
    name: str
    versions: tuple[CrmRateCardVersion, ...] = Field(description="Oldest first.")

    def version_on(self, day: date) -> CrmRateCardVersion | None:
        """The version in force on `day`: the latest one effective on or before it."""
        current = None
        for version in self.versions:
            if version.effective_from <= day:
                current = version
        return current


class DealRegistrationStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class DealRegistrationCreate(CrmInput):
    """A partner's claim to a customer for some product tiers, until `expires_on`."""

    partner_id: str = Field(min_length=1, max_length=40)
    customer_id: str = Field(min_length=1, max_length=40)
    product_tiers: tuple[ProductTier, ...] = Field(min_length=1, max_length=10)
    expires_on: date
    note: str | None = Field(default=None, max_length=500)


class DealRegistration(CrmModel):
    id: str
    partner_id: str
    customer_id: str
    product_tiers: tuple[str, ...]
    status: DealRegistrationStatus
    registered_on: date
    decided_on: date | None = Field(description="When it was approved or rejected.")
    expires_on: date
    note: str | None


class DealDecision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class DealRegistrationDecision(CrmInput):
    decision: DealDecision
    note: str | None = Field(default=None, max_length=500)


class EligibilityReason(StrEnum):
    """Why a partner may, or may not, be credited for a customer's product on a date."""

    ELIGIBLE = "eligible"
    PARTNER_INACTIVE = "partner_inactive"
    NO_DEAL_REGISTRATION = "no_deal_registration"
    DEAL_REGISTRATION_PENDING = "deal_registration_pending"
    DEAL_REGISTRATION_REJECTED = "deal_registration_rejected"
    DEAL_REGISTRATION_NOT_YET_APPROVED = "deal_registration_not_yet_approved"
    DEAL_REGISTRATION_EXPIRED = "deal_registration_expired"


class PartnerEligibility(CrmModel):
    """The CRM's answer: eligible only with an active partner and a deal registration
    approved on or before `on` and expiring after it, covering the product tier."""

    partner_id: str
    customer_id: str
    product_tier: str
    on: date
    eligible: bool
    reason: EligibilityReason
    deal_registration_id: str | None = Field(
        description="The registration that decided it (the best one found), if any."
    )


class CrmQuoteLine(CrmModel):
    price_id: str
    quantity: int


class CrmAcceptedQuote(CrmModel):
    """A quote the customer accepted in the CRM, from its signed `quote.accepted` event."""

    event_id: str
    quote_id: str
    customer_id: str
    partner_id: str | None
    service_start: date
    lines: tuple[CrmQuoteLine, ...]
