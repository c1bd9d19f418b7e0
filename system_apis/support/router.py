"""`/system/support/v1`: the canonical support API for trusted internal callers.

Thin: each operation is one `SupportPort` call, with the `system:support` scope.
Creates require an `Idempotency-Key`, passed to the desk, which replays the first
answer.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from core.auth import requires
from core.problems import problem_responses
from system_apis.rest import (
    BACKEND_PROBLEMS,
    VENDOR_ID_PATTERN,
    WRITE_PROBLEMS,
    IdempotencyKey,
    VendorID,
)
from system_apis.support.port import SupportPort
from system_apis.support.schemas import (
    ServiceCredit,
    ServiceCreditCreate,
    ServiceCreditDecision,
    ServiceCreditStatus,
    SupportCase,
    SupportCaseCreate,
    SupportEntitlement,
    SupportEntitlementGrant,
    SupportTierChange,
)


def get_support(request: Request) -> SupportPort:
    """The support port the composition root built."""
    port: SupportPort = request.app.state.backends.support
    return port


SupportDep = Annotated[SupportPort, Depends(get_support)]

router = APIRouter(
    prefix="/system/support/v1",
    tags=["system-support"],
    dependencies=[requires("system:support")],
)


@router.get(
    "/customers/{customer_id}/entitlements",
    response_model=list[SupportEntitlement],
    operation_id="system-support-list-entitlements",
    summary="List a customer's entitlements",
    responses=problem_responses(*BACKEND_PROBLEMS),
)
async def list_entitlements(customer_id: VendorID, support: SupportDep) -> list[SupportEntitlement]:
    """Every entitlement of the customer, revoked ones included."""
    return list(await support.list_entitlements(customer_id))


@router.post(
    "/customers/{customer_id}/entitlements",
    response_model=SupportEntitlement,
    operation_id="system-support-grant-entitlement",
    summary="Grant an entitlement",
    responses=problem_responses(*WRITE_PROBLEMS),
)
async def grant_entitlement(
    customer_id: VendorID,
    grant: SupportEntitlementGrant,
    idempotency_key: IdempotencyKey,
    support: SupportDep,
) -> SupportEntitlement:
    """The customer's active entitlement for the product at this tier (granted if new)."""
    return await support.grant_entitlement(customer_id, grant, idempotency_key=idempotency_key)


@router.patch(
    "/entitlements/{entitlement_id}",
    response_model=SupportEntitlement,
    operation_id="system-support-change-entitlement-tier",
    summary="Change an entitlement's tier",
    responses=problem_responses(*WRITE_PROBLEMS),
)
async def change_entitlement_tier(
    entitlement_id: VendorID, change: SupportTierChange, support: SupportDep
) -> SupportEntitlement:
    """Move an active entitlement to another tier (an upgrade or a downgrade)."""
    return await support.change_entitlement_tier(entitlement_id, change.tier)


@router.delete(
    "/entitlements/{entitlement_id}",
    response_model=SupportEntitlement,
    operation_id="system-support-revoke-entitlement",
    summary="Revoke an entitlement",
    responses=problem_responses(*BACKEND_PROBLEMS),
)
async def revoke_entitlement(entitlement_id: VendorID, support: SupportDep) -> SupportEntitlement:
    """Revoke an entitlement; revoking it again answers it unchanged."""
    return await support.revoke_entitlement(entitlement_id)


@router.post(
    "/cases",
    response_model=SupportCase,
    status_code=201,
    operation_id="system-support-open-case",
    summary="Open a case",
    responses=problem_responses(*WRITE_PROBLEMS),
)
async def open_case(
    case: SupportCaseCreate,
    idempotency_key: IdempotencyKey,
    support: SupportDep,
    response: Response,
) -> SupportCase:
    """Open a case; its priority comes from the customer's entitlement tier."""
    opened = await support.open_case(case, idempotency_key=idempotency_key)
    response.headers["Location"] = f"/system/support/v1/cases/{opened.id}"
    return opened


@router.get(
    "/cases/{case_id}",
    response_model=SupportCase,
    operation_id="system-support-get-case",
    summary="Get a case",
    responses=problem_responses(*BACKEND_PROBLEMS),
)
async def get_case(case_id: VendorID, support: SupportDep) -> SupportCase:
    """One case with its priority and first-response target."""
    return await support.get_case(case_id)


@router.post(
    "/service-credits",
    response_model=ServiceCredit,
    status_code=201,
    operation_id="system-support-request-service-credit",
    summary="Request a service credit",
    responses=problem_responses(*WRITE_PROBLEMS),
)
async def request_service_credit(
    credit: ServiceCreditCreate,
    idempotency_key: IdempotencyKey,
    support: SupportDep,
    response: Response,
) -> ServiceCredit:
    """Ask for a credit on a support case, against one of the customer's invoices."""
    created = await support.request_service_credit(credit, idempotency_key=idempotency_key)
    response.headers["Location"] = f"/system/support/v1/service-credits/{created.id}"
    return created


@router.get(
    "/service-credits",
    response_model=list[ServiceCredit],
    operation_id="system-support-list-service-credits",
    summary="List service credits",
    responses=problem_responses(*BACKEND_PROBLEMS),
)
async def list_service_credits(
    support: SupportDep,
    case_id: Annotated[str | None, Query(pattern=VENDOR_ID_PATTERN)] = None,
    status: Annotated[ServiceCreditStatus | None, Query()] = None,
) -> list[ServiceCredit]:
    """Service credits of a case or in a status."""
    return list(await support.list_service_credits(case_id=case_id, status=status))


@router.get(
    "/service-credits/{credit_id}",
    response_model=ServiceCredit,
    operation_id="system-support-get-service-credit",
    summary="Get a service credit",
    responses=problem_responses(*BACKEND_PROBLEMS),
)
async def get_service_credit(credit_id: VendorID, support: SupportDep) -> ServiceCredit:
    """One service credit and its status."""
    return await support.get_service_credit(credit_id)


@router.post(
    "/service-credits/{credit_id}/decision",
    response_model=ServiceCredit,
    operation_id="system-support-decide-service-credit",
    summary="Approve or reject a service credit",
    responses=problem_responses(*WRITE_PROBLEMS),
)
async def decide_service_credit(
    credit_id: VendorID, decision: ServiceCreditDecision, support: SupportDep
) -> ServiceCredit:
    """Approve or reject a requested credit; the same decision again is a no-op."""
    return await support.decide_service_credit(credit_id, decision)
