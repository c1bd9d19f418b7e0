"""`CrmPort`: what the process tier may ask of any CRM / channel platform.

Small Protocols per kind of object; `CrmPort` is their union. Writes that create
something carry the caller's idempotency key downstream; decisions are idempotent by
nature (deciding again the same way returns the registration unchanged, the other
way is refused). The CRM, not the adapter, decides eligibility: the rule
(`PartnerEligibility`) is the CRM's, and an adapter only maps its answer.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol, runtime_checkable

from system_apis.crm.schemas import (
    CrmAccount,
    CrmAccountStatus,
    CrmCommissionPlan,
    CrmPartner,
    CrmPartnerStatus,
    CrmRateCardVersionCreate,
    DealRegistration,
    DealRegistrationCreate,
    DealRegistrationDecision,
    DealRegistrationStatus,
    PartnerEligibility,
)


@runtime_checkable
class CrmPartners(Protocol):
    async def get_partner(self, partner_id: str) -> CrmPartner: ...

    async def list_partners(
        self, *, status: CrmPartnerStatus | None = None
    ) -> tuple[CrmPartner, ...]: ...

    async def check_eligibility(
        self, partner_id: str, *, customer_id: str, product_tier: str, on: date
    ) -> PartnerEligibility:
        """May the partner be credited for the customer's `product_tier` on `on`, and why."""
        ...


@runtime_checkable
class CrmCommissionPlans(Protocol):
    async def get_commission_plan(self, code: str) -> CrmCommissionPlan: ...

    async def add_rate_card_version(
        self, code: str, version: CrmRateCardVersionCreate, *, idempotency_key: str
    ) -> CrmCommissionPlan:
        """Append a version effective after the latest one; earlier versions never change."""
        ...


@runtime_checkable
class CrmDealRegistrations(Protocol):
    async def register_deal(
        self, registration: DealRegistrationCreate, *, idempotency_key: str
    ) -> DealRegistration:
        """Register a deal, `pending` until decided; an inactive partner is refused."""
        ...

    async def get_deal_registration(self, registration_id: str) -> DealRegistration: ...

    async def list_deal_registrations(
        self,
        *,
        partner_id: str | None = None,
        customer_id: str | None = None,
        status: DealRegistrationStatus | None = None,
    ) -> tuple[DealRegistration, ...]: ...

    async def decide_deal_registration(
        self, registration_id: str, decision: DealRegistrationDecision
    ) -> DealRegistration: ...


@runtime_checkable
class CrmAccounts(Protocol):
    async def set_account_status(self, customer_id: str, status: CrmAccountStatus) -> CrmAccount:
        """Tell the CRM the customer's account is suspended or active again; setting the
        status it has already answers it unchanged."""
        ...


@runtime_checkable
class CrmPort(CrmPartners, CrmCommissionPlans, CrmDealRegistrations, CrmAccounts, Protocol):
    """Everything the process tier may ask of a CRM / channel platform."""
