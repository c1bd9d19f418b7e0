"""`/partner/v1/subscriptions`: the subscriptions attributed to the token's partner."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.experience.partner import repository
from app.experience.partner.deps import ERRORS, CustomerFilter, PartnerID
from core.canonical.subscriptions import Subscription, SubscriptionStatus
from core.ids import id_pattern
from core.pagination import DEFAULT_PAGE_SIZE, Cursor, Page, PageSize
from process_apis.deps import SessionDep

router = APIRouter()

SubscriptionID = Annotated[str, Path(pattern=id_pattern("subscription"))]


@router.get(
    "/subscriptions",
    response_model=Page[Subscription],
    operation_id="partner-subscriptions-list",
    summary="List the partner's subscriptions",
    responses=ERRORS,
)
async def list_subscriptions(
    partner: PartnerID,
    session: SessionDep,
    status: Annotated[SubscriptionStatus | None, Query()] = None,
    customer_id: CustomerFilter = None,
    cursor: Cursor = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> Page[Subscription]:
    """Subscriptions ordered through the token's partner, newest first, by status or customer."""
    items, next_cursor = await repository.list_subscriptions(
        session, partner, status=status, customer_id=customer_id, cursor=cursor, limit=limit
    )
    return Page[Subscription](items=items, next_cursor=next_cursor)


@router.get(
    "/subscriptions/{subscription_id}",
    response_model=Subscription,
    operation_id="partner-subscriptions-get",
    summary="Get one of the partner's subscriptions",
    responses=ERRORS,
)
async def get_subscription(
    subscription_id: SubscriptionID, partner: PartnerID, session: SessionDep
) -> Subscription:
    """One attributed subscription with its status; any other is not found."""
    return await repository.get_subscription(session, partner, subscription_id)
