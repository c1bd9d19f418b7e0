"""Partners and their eligibility for a customer's product tier on a date."""

from __future__ import annotations

from datetime import date

from starlette.requests import Request

from sandboxes.crm.state import CrmState, Partner
from sandboxes.crm.wire import CHANNEL, PARTNER_STATUSES, read_date
from sandboxes.json_api import JsonObject


async def list_partners(state: CrmState, request: Request) -> tuple[int, JsonObject]:
    status = request.query_params.get("status")
    if status is not None and status not in PARTNER_STATUSES:
        CHANNEL.bad("status")
    partners = [p.wire() for p in state.partners.values() if status in (None, p.status)]
    return 200, {"data": partners}


async def get_partner(state: CrmState, request: Request) -> tuple[int, JsonObject]:
    return 200, state.partner(request.path_params["ref"]).wire()


def eligibility(
    state: CrmState, partner: Partner, customer_ref: str, tier: str, on: date
) -> tuple[str, str | None]:
    if partner.status != "active":
        return "partner_inactive", None
    candidates = [
        r
        for r in state.registrations.values()
        if r.partner_ref == partner.ref and r.customer_ref == customer_ref
        if tier in r.product_tiers
    ]
    today = state.today()
    misses: list[tuple[int, str, str]] = []
    for registration in candidates:
        decided = registration.decided_on
        approved = registration.status == "approved" and decided is not None
        if approved and decided is not None and decided <= on < registration.expires_on:
            return "eligible", registration.id
        if registration.status == "rejected":
            misses.append((3, "deal_registration_rejected", registration.id))
        elif registration.expires_on <= on or registration.status_on(today) == "expired":
            misses.append((0, "deal_registration_expired", registration.id))
        elif approved:
            misses.append((1, "deal_registration_not_yet_approved", registration.id))
        else:
            misses.append((2, "deal_registration_pending", registration.id))
    if not misses:
        return "no_deal_registration", None
    _, reason, registration_id = min(misses)
    return reason, registration_id


async def check_eligibility(state: CrmState, request: Request) -> tuple[int, JsonObject]:
    partner = state.partner(request.path_params["ref"])
    query = request.query_params
    customer_ref = CHANNEL.text(dict(query), "customerRef")
    tier = CHANNEL.text(dict(query), "productTier")
    on = read_date(query.get("on"), "on")
    reason, registration_id = eligibility(state, partner, customer_ref, tier, on)
    return 200, {
        "partnerRef": partner.ref,
        "customerRef": customer_ref,
        "productTier": tier,
        "on": on.isoformat(),
        "eligible": reason == "eligible",
        "reason": reason,
        "dealRegistrationId": registration_id,
    }
