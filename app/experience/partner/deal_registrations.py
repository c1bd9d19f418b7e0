"""`/partner/v1/deal-registrations`: the partner's deal registrations, as the CRM holds them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.experience.partner.deps import ERRORS, CustomerFilter, PartnerID
from core.pagination import DEFAULT_PAGE_SIZE, Cursor, Page, PageSize
from core.problems import problem_responses
from process_apis.deal_registrations import service
from process_apis.deal_registrations.schemas import (
    REGISTRATION_ID_PATTERN,
    DealRegistrationResource,
    DealRegistrationStatus,
)
from process_apis.deps import ContextDep

router = APIRouter()

RegistrationID = Annotated[
    str,
    Path(pattern=REGISTRATION_ID_PATTERN, description="The CRM's id.", examples=["DR-000001"]),
]
# The CRM answers these reads: it may be down (503) or answer out of contract (502).
CRM_ERRORS = {**ERRORS, **problem_responses(502, 503, 504)}


@router.get(
    "/deal-registrations",
    response_model=Page[DealRegistrationResource],
    operation_id="partner-deal-registrations-list",
    summary="List the partner's deal registrations",
    responses=CRM_ERRORS,
)
async def list_deal_registrations(
    partner: PartnerID,
    context: ContextDep,
    status: Annotated[DealRegistrationStatus | None, Query()] = None,
    customer_id: CustomerFilter = None,
    cursor: Cursor = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> Page[DealRegistrationResource]:
    """The partner's registrations in the CRM, newest first, by status or customer."""
    items, next_cursor = await service.list_deal_registrations(
        context.crm,
        partner,
        customer_id=customer_id,
        status=status,
        cursor=cursor,
        limit=limit,
    )
    return Page[DealRegistrationResource](items=items, next_cursor=next_cursor)


@router.get(
    "/deal-registrations/{registration_id}",
    response_model=DealRegistrationResource,
    operation_id="partner-deal-registrations-get",
    summary="Get one of the partner's deal registrations",
    responses=CRM_ERRORS,
)
async def get_deal_registration(
    registration_id: RegistrationID, partner: PartnerID, context: ContextDep
) -> DealRegistrationResource:
    """One registration of the partner; another partner's, or an unknown one, is not found."""
    return await service.get_deal_registration(context.crm, partner, registration_id)
