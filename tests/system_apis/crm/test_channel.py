"""`CrmPort` through the Channel adapter against the CRM sandbox."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from app.seed import _demo_rows, demo_id
from core.models import CustomerRow, PartnerRow
from sandboxes.crm import CrmState, create_app
from system_apis.crm.adapters.channel import ChannelAdapter
from system_apis.crm.port import CrmPort
from system_apis.crm.schemas import (
    CrmAccountStatus,
    CrmPartnerStatus,
    CrmPartnerTier,
    CrmRate,
    CrmRateCardVersionCreate,
    DealDecision,
    DealRegistrationCreate,
    DealRegistrationDecision,
    DealRegistrationStatus,
    EligibilityReason,
)
from system_apis.errors import BackendBusinessError, BackendContractError, BackendNotFound
from tests.system_apis.crm.conftest import TODAY, Clock, channel_client

NORTHWIND, FABRIKAM = demo_id("partner", 1), demo_id("partner", 2)
ACME, GLOBEX, INITECH = (demo_id("customer", n) for n in (1, 2, 3))


def registration(partner: str = NORTHWIND, customer: str = GLOBEX) -> DealRegistrationCreate:
    return DealRegistrationCreate(
        partner_id=partner,
        customer_id=customer,
        product_tiers=("pro",),
        expires_on=TODAY + timedelta(days=90),
    )


def test_the_adapter_is_a_whole_crm_port(crm: ChannelAdapter) -> None:
    assert isinstance(crm, CrmPort)


async def test_the_sandbox_channel_matches_the_demo_estate(crm: ChannelAdapter) -> None:
    parents, children = _demo_rows()
    seeded = {
        row.id: (row.name, row.commission_plan) for row in parents if isinstance(row, PartnerRow)
    }
    partners = await crm.list_partners()
    assert {p.id: (p.name, p.commission_plan) for p in partners} == seeded
    attributed = {
        (row.partner_id, row.id)
        for row in children
        if isinstance(row, CustomerRow) and row.partner_id is not None
    }
    registrations = await crm.list_deal_registrations(status=DealRegistrationStatus.APPROVED)
    assert {(r.partner_id, r.customer_id) for r in registrations} == attributed
    for partner in partners:
        plan = await crm.get_commission_plan(partner.commission_plan)
        assert plan.code == partner.commission_plan
        assert plan.versions[0].rates


async def test_partners_read_and_filter(crm: ChannelAdapter, crm_state: CrmState) -> None:
    northwind = await crm.get_partner(NORTHWIND)
    assert (northwind.name, northwind.status, northwind.tier) == (
        "Northwind Resellers",
        CrmPartnerStatus.ACTIVE,
        CrmPartnerTier.GOLD,
    )
    crm_state.partners[FABRIKAM].status = "suspended"
    suspended = await crm.list_partners(status=CrmPartnerStatus.SUSPENDED)
    assert [p.id for p in suspended] == [FABRIKAM]
    with pytest.raises(BackendNotFound) as raised:
        await crm.get_partner("prt_nobody")
    assert raised.value.vendor_code == "not_found"


async def test_an_approved_unexpired_registration_makes_an_active_partner_eligible(
    crm: ChannelAdapter,
) -> None:
    answer = await crm.check_eligibility(NORTHWIND, customer_id=ACME, product_tier="pro", on=TODAY)
    assert (answer.eligible, answer.reason, answer.deal_registration_id) == (
        True,
        EligibilityReason.ELIGIBLE,
        "DR-000001",
    )


async def test_each_reason_for_refusing_eligibility(
    crm: ChannelAdapter, crm_state: CrmState, clock: Clock
) -> None:
    async def reason(partner: str, customer: str, on: date, tier: str = "pro") -> EligibilityReason:
        answer = await crm.check_eligibility(
            partner, customer_id=customer, product_tier=tier, on=on
        )
        assert answer.eligible is (answer.reason is EligibilityReason.ELIGIBLE)
        return answer.reason

    seeded = crm_state.registrations["DR-000001"]
    assert await reason(NORTHWIND, INITECH, TODAY) is EligibilityReason.NO_DEAL_REGISTRATION
    assert await reason(NORTHWIND, ACME, TODAY, "starter") is EligibilityReason.NO_DEAL_REGISTRATION
    assert (
        await reason(NORTHWIND, ACME, seeded.expires_on)
        is EligibilityReason.DEAL_REGISTRATION_EXPIRED
    )
    before_approval = seeded.registered_on
    assert (
        await reason(NORTHWIND, ACME, before_approval)
        is EligibilityReason.DEAL_REGISTRATION_NOT_YET_APPROVED
    )

    pending = await crm.register_deal(registration(), idempotency_key="dr-globex")
    assert await reason(NORTHWIND, GLOBEX, TODAY) is EligibilityReason.DEAL_REGISTRATION_PENDING
    await crm.decide_deal_registration(
        pending.id, DealRegistrationDecision(decision=DealDecision.REJECT, note="not ours")
    )
    assert await reason(NORTHWIND, GLOBEX, TODAY) is EligibilityReason.DEAL_REGISTRATION_REJECTED

    crm_state.partners[NORTHWIND].status = "suspended"
    assert await reason(NORTHWIND, ACME, TODAY) is EligibilityReason.PARTNER_INACTIVE


async def test_a_deal_registration_from_pending_to_approved_to_expired(
    crm: ChannelAdapter, clock: Clock
) -> None:
    created = await crm.register_deal(registration(), idempotency_key="dr-1")
    assert (created.status, created.registered_on, created.decided_on) == (
        DealRegistrationStatus.PENDING,
        TODAY,
        None,
    )
    again = await crm.register_deal(registration(), idempotency_key="dr-1")
    assert again.id == created.id  # the CRM replayed the keyed create

    approve = DealRegistrationDecision(decision=DealDecision.APPROVE)
    approved = await crm.decide_deal_registration(created.id, approve)
    assert (approved.status, approved.decided_on) == (DealRegistrationStatus.APPROVED, TODAY)
    assert await crm.decide_deal_registration(created.id, approve) == approved
    with pytest.raises(BackendBusinessError) as raised:
        await crm.decide_deal_registration(
            created.id, DealRegistrationDecision(decision=DealDecision.REJECT)
        )
    assert raised.value.vendor_code == "invalid_transition"

    answer = await crm.check_eligibility(
        NORTHWIND, customer_id=GLOBEX, product_tier="pro", on=TODAY
    )
    assert answer.eligible
    clock.day = created.expires_on
    assert (await crm.get_deal_registration(created.id)).status is DealRegistrationStatus.EXPIRED
    found = await crm.list_deal_registrations(partner_id=NORTHWIND, customer_id=GLOBEX)
    assert [r.id for r in found] == [created.id]


async def test_the_crm_refuses_deals_it_cannot_register(
    crm: ChannelAdapter, crm_state: CrmState
) -> None:
    crm_state.partners[FABRIKAM].status = "terminated"
    with pytest.raises(BackendBusinessError) as inactive:
        await crm.register_deal(registration(partner=FABRIKAM), idempotency_key="dr-2")
    assert inactive.value.vendor_code == "partner_inactive"
    expired = registration().model_copy(update={"expires_on": TODAY})
    with pytest.raises(BackendBusinessError) as past:
        await crm.register_deal(expired, idempotency_key="dr-3")
    assert past.value.vendor_code == "expiry_not_in_future"
    await crm.register_deal(registration(), idempotency_key="dr-4")  # refusals keep no key
    with pytest.raises(BackendBusinessError) as reused:
        await crm.register_deal(registration(customer=INITECH), idempotency_key="dr-4")
    assert reused.value.vendor_code == "idempotency_key_reused"


async def test_rate_cards_are_versioned_and_append_only(crm: ChannelAdapter) -> None:
    version = CrmRateCardVersionCreate(
        effective_from=date(2026, 7, 1),
        rates=(
            CrmRate(product_tier="pro", rate_bps=2200),
            CrmRate(product_tier="enterprise", rate_bps=2500),
        ),
    )
    plan = await crm.add_rate_card_version("reseller-20", version, idempotency_key="rc-1")
    assert [v.version for v in plan.versions] == [1, 2]
    assert (await crm.add_rate_card_version("reseller-20", version, idempotency_key="rc-1")) == plan

    in_force = plan.version_on(date(2026, 6, 30))
    assert in_force is not None
    assert in_force.version == 1
    july = plan.version_on(date(2026, 7, 1))
    assert july is not None
    assert {r.product_tier: r.rate_bps for r in july.rates} == {
        "pro": 2200,
        "enterprise": 2500,
    }
    assert plan.version_on(date(2023, 12, 31)) is None

    with pytest.raises(BackendBusinessError) as raised:
        await crm.add_rate_card_version("reseller-20", version, idempotency_key="rc-2")
    assert raised.value.vendor_code == "rate_card_not_after_latest"
    with pytest.raises(BackendNotFound):
        await crm.get_commission_plan("no-such-plan")


def test_a_rate_card_has_one_rate_per_tier() -> None:
    with pytest.raises(ValueError, match="one rate per product tier"):
        CrmRateCardVersionCreate(
            effective_from=TODAY,
            rates=(
                CrmRate(product_tier="pro", rate_bps=1),
                CrmRate(product_tier="pro", rate_bps=2),
            ),
        )


async def test_an_answer_outside_the_wire_format_is_a_contract_error() -> None:
    def garbled(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"partnerRef": NORTHWIND, "status": "dormant"})

    client = channel_client(httpx.MockTransport(garbled))
    try:
        with pytest.raises(BackendContractError):
            await ChannelAdapter(client).get_partner(NORTHWIND)
    finally:
        await client.aclose()


async def test_the_sandbox_refuses_a_request_without_a_token(crm_state: CrmState) -> None:
    transport = httpx.ASGITransport(app=create_app(crm_state))
    async with httpx.AsyncClient(transport=transport, base_url="http://crm.sandbox") as http:
        response = await http.get("/api/v1/partners")
        unknown_field = await http.post(
            "/api/v1/deal-registrations",
            json={"partnerRef": NORTHWIND, "colour": "red"},
            headers={"Authorization": "Bearer t"},
        )
    assert (response.status_code, response.json()["error"]["code"]) == (401, "unauthenticated")
    assert unknown_field.status_code == 400
    assert unknown_field.json()["error"] == {
        "code": "invalid_request",
        "message": "unknown field 'colour'",
        "field": "colour",
    }


async def test_a_customer_account_is_suspended_and_reactivated(
    crm: ChannelAdapter, crm_state: CrmState
) -> None:
    suspended = await crm.set_account_status(GLOBEX, CrmAccountStatus.SUSPENDED)
    again = await crm.set_account_status(GLOBEX, CrmAccountStatus.SUSPENDED)
    assert (suspended.customer_id, suspended.status) == (GLOBEX, CrmAccountStatus.SUSPENDED)
    assert suspended.changed_at is not None
    assert again == suspended
    assert crm_state.account(GLOBEX).status == "suspended"

    active = await crm.set_account_status(GLOBEX, CrmAccountStatus.ACTIVE)
    assert active.status is CrmAccountStatus.ACTIVE
    assert crm_state.account(GLOBEX).status == "active"


async def test_a_replayed_create_answers_the_first_answer_and_creates_nothing(
    crm_state: CrmState,
) -> None:
    body = {
        "partnerRef": NORTHWIND,
        "customerRef": GLOBEX,
        "productTiers": ["pro"],
        "expiresOn": (TODAY + timedelta(days=90)).isoformat(),
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(crm_state)),
        base_url="http://crm.test/api/v1",
        headers={"Authorization": "Bearer t", "Idempotency-Key": "dr-replay"},
    ) as client:
        first = await client.post("/deal-registrations", json=body)
        before = len(crm_state.registrations)
        again = await client.post("/deal-registrations", json=body)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(crm_state.registrations) == before
