"""Canonical CRM objects ⇄ Channel API v1 wire objects. Pure functions, no I/O."""

from __future__ import annotations

from typing import Any

from system_apis.crm.adapters.channel_wire import (
    ChannelCommissionPlan,
    ChannelEligibility,
    ChannelPartner,
    ChannelQuoteAccepted,
    ChannelRegistration,
)
from system_apis.crm.schemas import (
    CrmAcceptedQuote,
    CrmCommissionPlan,
    CrmPartner,
    CrmPartnerStatus,
    CrmPartnerTier,
    CrmQuoteLine,
    CrmRate,
    CrmRateCardVersion,
    CrmRateCardVersionCreate,
    DealRegistration,
    DealRegistrationCreate,
    DealRegistrationStatus,
    EligibilityReason,
    PartnerEligibility,
)


def partner_from_channel(partner: ChannelPartner) -> CrmPartner:
    return CrmPartner(
        id=partner.partner_ref,
        name=partner.name,
        status=CrmPartnerStatus(partner.status),
        tier=CrmPartnerTier(partner.tier),
        commission_plan=partner.commission_plan,
        updated_at=partner.updated_at,
    )


def plan_from_channel(plan: ChannelCommissionPlan) -> CrmCommissionPlan:
    versions = sorted(plan.rate_cards, key=lambda card: card.version)
    return CrmCommissionPlan(
        code=plan.code,
        name=plan.name,
        versions=tuple(
            CrmRateCardVersion(
                version=card.version,
                effective_from=card.effective_from,
                rates=tuple(
                    CrmRate(product_tier=rate.product_tier, rate_bps=rate.rate_bps)
                    for rate in card.rates
                ),
            )
            for card in versions
        ),
    )


def rate_card_to_channel(version: CrmRateCardVersionCreate) -> dict[str, Any]:
    return {
        "effectiveFrom": version.effective_from.isoformat(),
        "rates": [
            {"productTier": rate.product_tier, "rateBps": rate.rate_bps} for rate in version.rates
        ],
    }


def registration_to_channel(registration: DealRegistrationCreate) -> dict[str, Any]:
    body: dict[str, Any] = {
        "partnerRef": registration.partner_id,
        "customerRef": registration.customer_id,
        "productTiers": list(registration.product_tiers),
        "expiresOn": registration.expires_on.isoformat(),
    }
    if registration.note is not None:
        body["note"] = registration.note
    return body


def registration_from_channel(registration: ChannelRegistration) -> DealRegistration:
    return DealRegistration(
        id=registration.id,
        partner_id=registration.partner_ref,
        customer_id=registration.customer_ref,
        product_tiers=tuple(registration.product_tiers),
        status=DealRegistrationStatus(registration.status),
        registered_on=registration.registered_on,
        decided_on=registration.decided_on,
        expires_on=registration.expires_on,
        note=registration.note,
    )


def eligibility_from_channel(answer: ChannelEligibility) -> PartnerEligibility:
    return PartnerEligibility(
        partner_id=answer.partner_ref,
        customer_id=answer.customer_ref,
        product_tier=answer.product_tier,
        on=answer.on,
        eligible=answer.eligible,
        reason=EligibilityReason(answer.reason),
        deal_registration_id=answer.deal_registration_id,
    )


def accepted_quote_from_channel(event: ChannelQuoteAccepted) -> CrmAcceptedQuote:
    quote = event.data
    return CrmAcceptedQuote(
        event_id=event.id,
        quote_id=quote.id,
        customer_id=quote.customer_ref,
        partner_id=quote.partner_ref,
        service_start=quote.service_start,
        lines=tuple(
            CrmQuoteLine(price_id=line.price_ref, quantity=line.quantity) for line in quote.lines
        ),
    )
