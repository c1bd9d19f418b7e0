"""An in-memory CRM that satisfies `CrmPort`: partners, commission plans, deal registrations.

Eligibility follows the CRM's rule (`PartnerEligibility`): an active partner and a deal
registration for the customer covering the product tier, approved on or before the day
and expiring after it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from system_apis.crm.port import CrmPort
from system_apis.crm.schemas import (
    CrmAccount,
    CrmAccountStatus,
    CrmCommissionPlan,
    CrmPartner,
    CrmPartnerStatus,
    CrmPartnerTier,
    CrmRate,
    CrmRateCardVersion,
    CrmRateCardVersionCreate,
    DealDecision,
    DealRegistration,
    DealRegistrationCreate,
    DealRegistrationDecision,
    DealRegistrationStatus,
    EligibilityReason,
    PartnerEligibility,
)
from tests.support.fakes.recorder import Recorder

NOT_APPROVED = {
    DealRegistrationStatus.PENDING: EligibilityReason.DEAL_REGISTRATION_PENDING,
    DealRegistrationStatus.REJECTED: EligibilityReason.DEAL_REGISTRATION_REJECTED,
    DealRegistrationStatus.EXPIRED: EligibilityReason.DEAL_REGISTRATION_EXPIRED,
}


class FakeCrm:
    """`CrmPort` held in dicts; `recorder` arms failures and keeps the calls."""

    def __init__(self, *, today: date = date(2026, 11, 15)) -> None:
        self.recorder = Recorder("crm", CrmPort)
        self.today = today
        self.partners: dict[str, CrmPartner] = {}
        self.plans: dict[str, CrmCommissionPlan] = {}
        self.registrations: dict[str, DealRegistration] = {}
        self._keyed: dict[str, DealRegistration] = {}
        self.accounts: dict[str, CrmAccount] = {}

    async def set_account_status(self, customer_id: str, status: CrmAccountStatus) -> CrmAccount:
        self.recorder.enter("set_account_status", customer_id=customer_id, status=status)
        current = self.accounts.get(customer_id)
        if current is None or current.status != status:
            changed = datetime(self.today.year, self.today.month, self.today.day, tzinfo=UTC)
            current = CrmAccount(customer_id=customer_id, status=status, changed_at=changed)
            self.accounts[customer_id] = current
        return current

    def add_partner(
        self, partner_id: str, plan: str, *, status: CrmPartnerStatus = CrmPartnerStatus.ACTIVE
    ) -> CrmPartner:
        partner = CrmPartner(
            id=partner_id,
            name=f"Partner {partner_id}",
            status=status,
            tier=CrmPartnerTier.GOLD,
            commission_plan=plan,
            updated_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        self.partners[partner_id] = partner
        return partner

    def add_plan(self, code: str, *versions: tuple[date, dict[str, int]]) -> CrmCommissionPlan:
        """A plan with rate card versions: (effective from, {product tier: basis points})."""
        plan = CrmCommissionPlan(
            code=code,
            name=code,
            versions=tuple(
                CrmRateCardVersion(
                    version=number,
                    effective_from=effective,
                    rates=tuple(CrmRate(product_tier=t, rate_bps=b) for t, b in rates.items()),
                )
                for number, (effective, rates) in enumerate(versions, start=1)
            ),
        )
        self.plans[code] = plan
        return plan

    def approve(
        self, partner_id: str, customer_id: str, tiers: tuple[str, ...], *, on: date, until: date
    ) -> DealRegistration:
        """A deal registration already approved on `on`, expiring on `until`."""
        registration = DealRegistration(
            id=f"dr_fake{len(self.registrations) + 1:05d}",
            partner_id=partner_id,
            customer_id=customer_id,
            product_tiers=tiers,
            status=DealRegistrationStatus.APPROVED,
            registered_on=on,
            decided_on=on,
            expires_on=until,
            note=None,
        )
        self.registrations[registration.id] = registration
        return registration

    # CrmPartners

    async def get_partner(self, partner_id: str) -> CrmPartner:
        self.recorder.enter("get_partner", partner_id=partner_id)
        partner = self.partners.get(partner_id)
        if partner is None:
            self.recorder.not_found("get_partner", f"no partner {partner_id}")
        return partner

    async def list_partners(
        self, *, status: CrmPartnerStatus | None = None
    ) -> tuple[CrmPartner, ...]:
        self.recorder.enter("list_partners", status=status)
        return tuple(p for p in self.partners.values() if status in (None, p.status))

    def _decide(self, partner_id: str, customer_id: str, tier: str, on: date) -> PartnerEligibility:
        def answer(reason: EligibilityReason, found: DealRegistration | None) -> PartnerEligibility:
            return PartnerEligibility(
                partner_id=partner_id,
                customer_id=customer_id,
                product_tier=tier,
                on=on,
                eligible=reason == EligibilityReason.ELIGIBLE,
                reason=reason,
                deal_registration_id=found.id if found else None,
            )

        partner = self.partners.get(partner_id)
        if partner is None or partner.status != CrmPartnerStatus.ACTIVE:
            return answer(EligibilityReason.PARTNER_INACTIVE, None)
        covering = [
            r
            for r in self.registrations.values()
            if r.partner_id == partner_id
            and r.customer_id == customer_id
            and tier in r.product_tiers
        ]
        if not covering:
            return answer(EligibilityReason.NO_DEAL_REGISTRATION, None)
        best = covering[-1]
        for registration in covering:
            if registration.status != DealRegistrationStatus.APPROVED:
                continue
            best = registration
            if registration.decided_on is not None and registration.decided_on > on:
                continue
            if registration.expires_on <= on:
                continue
            return answer(EligibilityReason.ELIGIBLE, registration)
        if best.status == DealRegistrationStatus.APPROVED:
            late = best.decided_on is not None and best.decided_on > on
            reason = (
                EligibilityReason.DEAL_REGISTRATION_NOT_YET_APPROVED
                if late
                else EligibilityReason.DEAL_REGISTRATION_EXPIRED
            )
            return answer(reason, best)
        return answer(NOT_APPROVED[best.status], best)

    async def check_eligibility(
        self, partner_id: str, *, customer_id: str, product_tier: str, on: date
    ) -> PartnerEligibility:
        self.recorder.enter("check_eligibility", partner_id=partner_id, product_tier=product_tier)
        return self._decide(partner_id, customer_id, product_tier, on)

    # CrmCommissionPlans

    async def get_commission_plan(self, code: str) -> CrmCommissionPlan:
        self.recorder.enter("get_commission_plan", code=code)
        plan = self.plans.get(code)
        if plan is None:
            self.recorder.not_found("get_commission_plan", f"no commission plan {code}")
        return plan

    async def add_rate_card_version(
        self, code: str, version: CrmRateCardVersionCreate, *, idempotency_key: str
    ) -> CrmCommissionPlan:
        self.recorder.enter("add_rate_card_version", code=code, key=idempotency_key)
        plan = self.plans.get(code)
        if plan is None:
            self.recorder.not_found("add_rate_card_version", f"no commission plan {code}")
        if plan.versions and version.effective_from <= plan.versions[-1].effective_from:
            self.recorder.refuse("add_rate_card_version", "not after the latest version")
        added = CrmRateCardVersion(
            version=len(plan.versions) + 1,
            effective_from=version.effective_from,
            rates=version.rates,
        )
        self.plans[code] = plan = plan.model_copy(update={"versions": (*plan.versions, added)})
        return plan

    # CrmDealRegistrations

    async def register_deal(
        self, registration: DealRegistrationCreate, *, idempotency_key: str
    ) -> DealRegistration:
        self.recorder.enter("register_deal", partner_id=registration.partner_id)
        known = self._keyed.get(idempotency_key)
        if known is not None:
            return known
        partner = self.partners.get(registration.partner_id)
        if partner is None or partner.status != CrmPartnerStatus.ACTIVE:
            self.recorder.refuse("register_deal", f"partner {registration.partner_id} is inactive")
        created = DealRegistration(
            id=f"dr_fake{len(self.registrations) + 1:05d}",
            partner_id=registration.partner_id,
            customer_id=registration.customer_id,
            product_tiers=registration.product_tiers,
            status=DealRegistrationStatus.PENDING,
            registered_on=self.today,
            decided_on=None,
            expires_on=registration.expires_on,
            note=registration.note,
        )
        self.registrations[created.id] = self._keyed[idempotency_key] = created
        return created

    async def get_deal_registration(self, registration_id: str) -> DealRegistration:
        self.recorder.enter("get_deal_registration", registration_id=registration_id)
        found = self.registrations.get(registration_id)
        if found is None:
            self.recorder.not_found("get_deal_registration", f"no registration {registration_id}")
        return found

    async def list_deal_registrations(
        self,
        *,
        partner_id: str | None = None,
        customer_id: str | None = None,
        status: DealRegistrationStatus | None = None,
    ) -> tuple[DealRegistration, ...]:
        self.recorder.enter("list_deal_registrations", partner_id=partner_id)
        return tuple(
            r
            for r in self.registrations.values()
            if partner_id in (None, r.partner_id)
            and customer_id in (None, r.customer_id)
            and status in (None, r.status)
        )

    async def decide_deal_registration(
        self, registration_id: str, decision: DealRegistrationDecision
    ) -> DealRegistration:
        self.recorder.enter("decide_deal_registration", registration_id=registration_id)
        found = self.registrations.get(registration_id)
        if found is None:
            self.recorder.not_found("decide_deal_registration", f"no {registration_id}")
        status = (
            DealRegistrationStatus.APPROVED
            if decision.decision == DealDecision.APPROVE
            else DealRegistrationStatus.REJECTED
        )
        if found.status == status:
            return found
        if found.status != DealRegistrationStatus.PENDING:
            self.recorder.refuse("decide_deal_registration", f"{registration_id} is decided")
        decided = found.model_copy(update={"status": status, "decided_on": self.today})
        self.registrations[registration_id] = decided
        return decided


# Statically checked: mypy fails here when the fake stops being a complete `CrmPort`.
_PORT: CrmPort = FakeCrm()
