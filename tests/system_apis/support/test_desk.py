"""`SupportPort` through the Desk adapter against the support desk sandbox."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from sandboxes.support import DeskState, create_app
from system_apis.errors import BackendBusinessError, BackendContractError, BackendNotFound
from system_apis.support.adapters.desk import DeskAdapter
from system_apis.support.port import SupportPort
from system_apis.support.schemas import (
    CasePriority,
    ServiceCreditCreate,
    ServiceCreditDecision,
    ServiceCreditOutcome,
    ServiceCreditReason,
    ServiceCreditStatus,
    SupportAccountStatus,
    SupportCaseCreate,
    SupportEntitlementGrant,
    SupportEntitlementStatus,
    SupportTier,
)
from tests.system_apis.support.conftest import NOW, desk_client

ACME = "cus_00000000000000000000000001"
GLOBEX = "cus_00000000000000000000000002"
PRO_PRODUCT, ENTERPRISE_PRODUCT = (
    "prod_00000000000000000000000001",
    "prod_00000000000000000000000002",
)


def grant(tier: SupportTier, product: str = PRO_PRODUCT) -> SupportEntitlementGrant:
    return SupportEntitlementGrant(product_id=product, tier=tier)


def credit(case_id: str, customer: str = ACME, **overrides: object) -> ServiceCreditCreate:
    values: dict[str, object] = {
        "case_id": case_id,
        "customer_id": customer,
        "invoice_id": "inv_01jabc",
        "amount": 1999,
        "currency": "USD",
        "reason_code": ServiceCreditReason.OUTAGE,
    }
    values.update(overrides)
    return ServiceCreditCreate.model_validate(values)


def test_the_adapter_is_a_whole_support_port(desk: DeskAdapter) -> None:
    assert isinstance(desk, SupportPort)


async def test_entitlements_are_granted_changed_and_revoked(desk: DeskAdapter) -> None:
    granted = await desk.grant_entitlement(ACME, grant(SupportTier.PRO), idempotency_key="g-1")
    assert (granted.customer_id, granted.tier, granted.status, granted.granted_at) == (
        ACME,
        SupportTier.PRO,
        SupportEntitlementStatus.ACTIVE,
        NOW,
    )
    same = await desk.grant_entitlement(ACME, grant(SupportTier.PRO), idempotency_key="g-2")
    assert same == granted  # one active entitlement per customer and product
    with pytest.raises(BackendBusinessError) as other_tier:
        await desk.grant_entitlement(ACME, grant(SupportTier.STARTER), idempotency_key="g-3")
    assert other_tier.value.vendor_code == "entitlement_exists"

    upgraded = await desk.change_entitlement_tier(granted.id, SupportTier.ENTERPRISE)
    assert upgraded.tier is SupportTier.ENTERPRISE
    revoked = await desk.revoke_entitlement(granted.id)
    assert (revoked.status, revoked.revoked_at) == (SupportEntitlementStatus.REVOKED, NOW)
    assert await desk.revoke_entitlement(granted.id) == revoked
    with pytest.raises(BackendBusinessError):
        await desk.change_entitlement_tier(granted.id, SupportTier.PRO)
    with pytest.raises(BackendNotFound):
        await desk.revoke_entitlement("ENT-404")

    regranted = await desk.grant_entitlement(ACME, grant(SupportTier.PRO), idempotency_key="g-4")
    assert [e.id for e in await desk.list_entitlements(ACME)] == [granted.id, regranted.id]
    assert await desk.list_entitlements(GLOBEX) == ()


@pytest.mark.parametrize(
    ("tiers", "priority", "tier", "within"),
    [
        ((SupportTier.ENTERPRISE,), CasePriority.P1, SupportTier.ENTERPRISE, timedelta(hours=1)),
        ((SupportTier.PRO,), CasePriority.P2, SupportTier.PRO, timedelta(hours=4)),
        ((SupportTier.STARTER,), CasePriority.P3, SupportTier.STARTER, timedelta(hours=8)),
        ((), CasePriority.P4, None, timedelta(hours=48)),
        (
            (SupportTier.STARTER, SupportTier.ENTERPRISE),
            CasePriority.P1,
            SupportTier.ENTERPRISE,
            timedelta(hours=1),
        ),
    ],
)
async def test_a_case_is_prioritised_by_the_highest_entitlement(
    desk: DeskAdapter,
    tiers: tuple[SupportTier, ...],
    priority: CasePriority,
    tier: SupportTier | None,
    within: timedelta,
) -> None:
    products = (PRO_PRODUCT, ENTERPRISE_PRODUCT)
    for number, held in enumerate(tiers):
        await desk.grant_entitlement(
            ACME, grant(held, products[number]), idempotency_key=f"g{number}"
        )
    case = await desk.open_case(
        SupportCaseCreate(customer_id=ACME, subject="Invoices stuck"), idempotency_key="c-1"
    )
    assert (case.priority, case.entitlement_tier, case.status) == (priority, tier, "open")
    assert case.first_response_due_at - case.opened_at == within
    assert await desk.get_case(case.id) == case


async def test_a_revoked_entitlement_no_longer_routes(desk: DeskAdapter) -> None:
    granted = await desk.grant_entitlement(ACME, grant(SupportTier.ENTERPRISE), idempotency_key="g")
    await desk.revoke_entitlement(granted.id)
    case = await desk.open_case(
        SupportCaseCreate(customer_id=ACME, subject="Down"), idempotency_key="c"
    )
    assert case.priority is CasePriority.P4


async def test_a_suspended_account_gets_no_premium_queue_and_its_cases_are_flagged(
    desk: DeskAdapter, desk_state: DeskState
) -> None:
    await desk.grant_entitlement(ACME, grant(SupportTier.ENTERPRISE), idempotency_key="g")
    suspended = await desk.set_account_status(ACME, SupportAccountStatus.SUSPENDED)
    again = await desk.set_account_status(ACME, SupportAccountStatus.SUSPENDED)
    held = await desk.open_case(
        SupportCaseCreate(customer_id=ACME, subject="Down"), idempotency_key="c1"
    )
    active = await desk.set_account_status(ACME, SupportAccountStatus.ACTIVE)
    served = await desk.open_case(
        SupportCaseCreate(customer_id=ACME, subject="Down again"), idempotency_key="c2"
    )

    assert (suspended.customer_id, suspended.status, suspended.changed_at) == (
        ACME,
        SupportAccountStatus.SUSPENDED,
        NOW,
    )
    assert again == suspended
    assert active.status is SupportAccountStatus.ACTIVE
    assert (held.priority, held.entitlement_tier) == (CasePriority.P4, None)
    assert desk_state.tickets[held.id].flags == ("account_suspended",)
    assert (served.priority, desk_state.tickets[served.id].flags) == (CasePriority.P1, ())


async def test_opening_a_case_twice_with_one_key_opens_one(
    desk: DeskAdapter, desk_state: DeskState
) -> None:
    request = SupportCaseCreate(customer_id=ACME, subject="Duplicate charge", description="Twice")
    first = await desk.open_case(request, idempotency_key="case-42")
    assert await desk.open_case(request, idempotency_key="case-42") == first
    assert list(desk_state.tickets) == [first.id]


async def test_a_service_credit_is_requested_and_decided(
    desk: DeskAdapter, desk_state: DeskState
) -> None:
    case = await desk.open_case(
        SupportCaseCreate(customer_id=ACME, subject="Outage"), idempotency_key="c"
    )
    requested = await desk.request_service_credit(credit(case.id), idempotency_key="sc-1")
    assert (requested.amount, requested.currency, requested.status, requested.case_id) == (
        1999,
        "USD",
        ServiceCreditStatus.REQUESTED,
        case.id,
    )
    assert desk_state.service_credits[requested.id].amount == Decimal(
        "19.99"
    )  # major units on the wire
    assert await desk.request_service_credit(credit(case.id), idempotency_key="sc-1") == requested

    approve = ServiceCreditDecision(decision=ServiceCreditOutcome.APPROVED, note="SLA missed")
    approved = await desk.decide_service_credit(requested.id, approve)
    assert (approved.status, approved.decided_at, approved.note) == (
        ServiceCreditStatus.APPROVED,
        NOW,
        "SLA missed",
    )
    assert await desk.decide_service_credit(requested.id, approve) == approved
    with pytest.raises(BackendBusinessError):
        await desk.decide_service_credit(
            requested.id, ServiceCreditDecision(decision=ServiceCreditOutcome.REJECTED)
        )
    assert await desk.list_service_credits(
        case_id=case.id, status=ServiceCreditStatus.APPROVED
    ) == (approved,)
    assert await desk.list_service_credits(status=ServiceCreditStatus.REQUESTED) == ()
    assert await desk.get_service_credit(requested.id) == approved


async def test_zero_decimal_currencies_keep_their_minor_units(
    desk: DeskAdapter, desk_state: DeskState
) -> None:
    case = await desk.open_case(
        SupportCaseCreate(customer_id=ACME, subject="Yen"), idempotency_key="c"
    )
    requested = await desk.request_service_credit(
        credit(case.id, amount=1500, currency="JPY"), idempotency_key="sc-jpy"
    )
    assert requested.amount == 1500
    assert desk_state.service_credits[requested.id].wire()["amount"] == "1500"


async def test_a_credit_on_another_customers_case_is_refused(desk: DeskAdapter) -> None:
    case = await desk.open_case(
        SupportCaseCreate(customer_id=ACME, subject="x"), idempotency_key="c"
    )
    with pytest.raises(BackendBusinessError) as raised:
        await desk.request_service_credit(credit(case.id, customer=GLOBEX), idempotency_key="sc")
    assert raised.value.vendor_code == "requester_mismatch"
    with pytest.raises(BackendNotFound):
        await desk.request_service_credit(credit("TCK-404"), idempotency_key="sc-2")


async def test_an_amount_the_currency_cannot_hold_is_a_contract_error() -> None:
    def finer_than_cents(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "id": "SC-1",
                "ticket_id": "TCK-1001",
                "customer_ref": ACME,
                "invoice_ref": "inv_1",
                "amount": "19.999",
                "currency": "USD",
                "reason": "outage",
                "status": "requested",
                "created_at": "2026-06-15T09:30:00Z",
            },
        )

    client = desk_client(httpx.MockTransport(finer_than_cents))
    try:
        with pytest.raises(BackendContractError):
            await DeskAdapter(client).get_service_credit("SC-1")
    finally:
        await client.aclose()


async def test_the_sandbox_speaks_its_own_conventions_on_the_wire(desk_state: DeskState) -> None:
    """Token scheme, blank text refused, keyed replay and reuse, errors as a list."""
    transport = httpx.ASGITransport(app=create_app(desk_state))
    token = {"Authorization": "Token t"}
    ticket = {"requester_ref": ACME, "subject": "Down"}
    async with httpx.AsyncClient(transport=transport, base_url="http://support.sandbox") as http:
        bearer = await http.get("/desk/v2/tickets/TCK-1001", headers={"Authorization": "Bearer t"})
        blank = await http.post("/desk/v2/tickets", json={**ticket, "subject": "  "}, headers=token)
        keyed = {**token, "Idempotency-Key": "k1"}
        first = await http.post("/desk/v2/tickets", json=ticket, headers=keyed)
        again = await http.post("/desk/v2/tickets", json=ticket, headers=keyed)
        other = await http.post("/desk/v2/tickets", json={**ticket, "subject": "Up"}, headers=keyed)
        no_route = await http.get("/desk/v2/nowhere", headers=token)
    assert (bearer.status_code, bearer.json()["errors"][0]["code"]) == (401, "unauthorized")
    assert blank.status_code == 400
    assert blank.json() == {
        "errors": [
            {"code": "invalid", "detail": "subject is missing or malformed", "field": "subject"}
        ]
    }
    assert (first.status_code, again.status_code, again.json()) == (201, 201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert list(desk_state.tickets) == ["TCK-1001"]
    assert (other.status_code, other.json()["errors"][0]["code"]) == (409, "idempotency_key_reused")
    assert (no_route.status_code, no_route.json()["errors"][0]["code"]) == (404, "not_found")
