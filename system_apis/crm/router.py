"""`/system/crm/v1`: the canonical CRM / channel API for trusted internal callers.

Thin: each operation is one `CrmPort` call, with the `system:crm` scope. Creates
require an `Idempotency-Key`, passed to the CRM, which replays the first answer.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from core.auth import requires
from core.problems import problem_responses
from system_apis.crm.port import CrmPort
from system_apis.crm.schemas import (
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
from system_apis.rest import (
    BACKEND_PROBLEMS,
    VENDOR_ID_PATTERN,
    WRITE_PROBLEMS,
    IdempotencyKey,
    VendorID,
)


def get_crm(request: Request) -> CrmPort:
    """The CRM port the composition root built."""
    port: CrmPort = request.app.state.backends.crm
    return port


CrmDep = Annotated[CrmPort, Depends(get_crm)]

router = APIRouter(
    prefix="/system/crm/v1", tags=["system-crm"], dependencies=[requires("system:crm")]
)


@router.get(
    "/partners",
    response_model=list[CrmPartner],
    operation_id="system-crm-list-partners",
    summary="List partners",
    responses=problem_responses(*BACKEND_PROBLEMS),
)
async def list_partners(
    crm: CrmDep, status: Annotated[CrmPartnerStatus | None, Query()] = None
) -> list[CrmPartner]:
    """Channel partners, optionally in one status."""
    return list(await crm.list_partners(status=status))


@router.get(
    "/partners/{partner_id}",
    response_model=CrmPartner,
    operation_id="system-crm-get-partner",
    summary="Get a partner",
    responses=problem_responses(*BACKEND_PROBLEMS),
)
async def get_partner(partner_id: VendorID, crm: CrmDep) -> CrmPartner:
    """One partner with its tier, status and commission plan."""
    return await crm.get_partner(partner_id)


@router.get(
    "/partners/{partner_id}/eligibility",
    response_model=PartnerEligibility,
    operation_id="system-crm-check-eligibility",
    summary="Check a partner's eligibility",
    responses=problem_responses(*BACKEND_PROBLEMS),
)
async def check_eligibility(
    partner_id: VendorID,
    crm: CrmDep,
    customer_id: Annotated[str, Query(pattern=VENDOR_ID_PATTERN)],
    product_tier: Annotated[str, Query(pattern=r"^[a-z][a-z0-9_-]{0,39}$")],
    on: Annotated[date, Query(description="The day the partner would be credited.")],
) -> PartnerEligibility:
    """Whether the partner may be credited for the customer's product tier on a day, and why."""
    return await crm.check_eligibility(
        partner_id, customer_id=customer_id, product_tier=product_tier, on=on
    )


@router.get(
    "/commission-plans/{code}",
    response_model=CrmCommissionPlan,
    operation_id="system-crm-get-commission-plan",
    summary="Get a commission plan",
    responses=problem_responses(*BACKEND_PROBLEMS),
)
async def get_commission_plan(code: VendorID, crm: CrmDep) -> CrmCommissionPlan:
    """A commission plan with every version of its rate card."""
    return await crm.get_commission_plan(code)


@router.post(
    "/commission-plans/{code}/rate-cards",
    response_model=CrmCommissionPlan,
    status_code=201,
    operation_id="system-crm-add-rate-card-version",
    summary="Add a rate card version",
    responses=problem_responses(*WRITE_PROBLEMS),
)
async def add_rate_card_version(
    code: VendorID,
    version: CrmRateCardVersionCreate,
    idempotency_key: IdempotencyKey,
    crm: CrmDep,
) -> CrmCommissionPlan:
    """Append a rate card version, effective after the latest one."""
    return await crm.add_rate_card_version(code, version, idempotency_key=idempotency_key)


@router.post(
    "/deal-registrations",
    response_model=DealRegistration,
    status_code=201,
    operation_id="system-crm-register-deal",
    summary="Register a deal",
    responses=problem_responses(*WRITE_PROBLEMS),
)
async def register_deal(
    registration: DealRegistrationCreate,
    idempotency_key: IdempotencyKey,
    crm: CrmDep,
    response: Response,
) -> DealRegistration:
    """A partner's claim to a customer, pending until approved or rejected."""
    created = await crm.register_deal(registration, idempotency_key=idempotency_key)
    response.headers["Location"] = f"/system/crm/v1/deal-registrations/{created.id}"
    return created


@router.get(
    "/deal-registrations",
    response_model=list[DealRegistration],
    operation_id="system-crm-list-deal-registrations",
    summary="List deal registrations",
    responses=problem_responses(*BACKEND_PROBLEMS),
)
async def list_deal_registrations(
    crm: CrmDep,
    partner_id: Annotated[str | None, Query(pattern=VENDOR_ID_PATTERN)] = None,
    customer_id: Annotated[str | None, Query(pattern=VENDOR_ID_PATTERN)] = None,
    status: Annotated[DealRegistrationStatus | None, Query()] = None,
) -> list[DealRegistration]:
    """Deal registrations of a partner, a customer or in a status."""
    return list(
        await crm.list_deal_registrations(
            partner_id=partner_id, customer_id=customer_id, status=status
        )
    )


@router.get(
    "/deal-registrations/{registration_id}",
    response_model=DealRegistration,
    operation_id="system-crm-get-deal-registration",
    summary="Get a deal registration",
    responses=problem_responses(*BACKEND_PROBLEMS),
)
async def get_deal_registration(registration_id: VendorID, crm: CrmDep) -> DealRegistration:
    """One deal registration and its status."""
    return await crm.get_deal_registration(registration_id)


@router.post(
    "/deal-registrations/{registration_id}/decision",
    response_model=DealRegistration,
    operation_id="system-crm-decide-deal-registration",
    summary="Approve or reject a deal registration",
    responses=problem_responses(*WRITE_PROBLEMS),
)
async def decide_deal_registration(
    registration_id: VendorID, decision: DealRegistrationDecision, crm: CrmDep
) -> DealRegistration:
    """Approve or reject a pending registration; the same decision again is a no-op."""
    return await crm.decide_deal_registration(registration_id, decision)
