"""The Channel API v1 wire objects (`sandboxes.crm` documents the format).

Permissive on reading (`extra="ignore"`): a CRM adds fields without a version change.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ChannelModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class ChannelAccount(ChannelModel):
    customer_ref: str = Field(alias="customerRef")
    status: Literal["active", "suspended"]
    status_changed_at: datetime | None = Field(default=None, alias="statusChangedAt")


class ChannelPartner(ChannelModel):
    partner_ref: str = Field(alias="partnerRef")
    name: str
    status: Literal["active", "suspended", "terminated"]
    tier: Literal["registered", "silver", "gold"]
    commission_plan: str = Field(alias="commissionPlan")
    updated_at: datetime = Field(alias="updatedAt")


class ChannelPartnerList(ChannelModel):
    data: list[ChannelPartner]


class ChannelRate(ChannelModel):
    product_tier: str = Field(alias="productTier")
    rate_bps: int = Field(alias="rateBps", ge=0, le=10_000)


class ChannelRateCard(ChannelModel):
    version: int = Field(ge=1)
    effective_from: date = Field(alias="effectiveFrom")
    rates: list[ChannelRate]


class ChannelCommissionPlan(ChannelModel):
    code: str
    name: str
    rate_cards: list[ChannelRateCard] = Field(alias="rateCards")


class ChannelRegistration(ChannelModel):
    id: str
    partner_ref: str = Field(alias="partnerRef")
    customer_ref: str = Field(alias="customerRef")
    product_tiers: list[str] = Field(alias="productTiers")
    status: Literal["pending", "approved", "rejected", "expired"]
    registered_on: date = Field(alias="registeredOn")
    decided_on: date | None = Field(alias="decidedOn")
    expires_on: date = Field(alias="expiresOn")
    note: str | None = None


class ChannelRegistrationList(ChannelModel):
    data: list[ChannelRegistration]


class ChannelEligibility(ChannelModel):
    partner_ref: str = Field(alias="partnerRef")
    customer_ref: str = Field(alias="customerRef")
    product_tier: str = Field(alias="productTier")
    on: date
    eligible: bool
    reason: Literal[
        "eligible",
        "partner_inactive",
        "no_deal_registration",
        "deal_registration_pending",
        "deal_registration_rejected",
        "deal_registration_not_yet_approved",
        "deal_registration_expired",
    ]
    deal_registration_id: str | None = Field(alias="dealRegistrationId")


class ChannelErrorDetail(ChannelModel):
    code: str
    message: str
    field: str | None = None


class ChannelErrorBody(ChannelModel):
    error: ChannelErrorDetail


class ChannelQuoteLine(ChannelModel):
    price_ref: str = Field(alias="priceRef")
    quantity: int


class ChannelQuote(ChannelModel):
    id: str
    customer_ref: str = Field(alias="customerRef")
    partner_ref: str | None = Field(default=None, alias="partnerRef")
    service_start: date = Field(alias="serviceStart")
    status: Literal["draft", "accepted"]
    lines: list[ChannelQuoteLine]


class ChannelQuoteAccepted(ChannelModel):
    """A signed event: `{"id": "evt_...", "type": "quote.accepted", "data": quote}`."""

    id: str = Field(min_length=1, max_length=255)
    type: Literal["quote.accepted"]
    created_at: datetime = Field(alias="createdAt")
    data: ChannelQuote
