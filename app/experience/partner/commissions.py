"""`/partner/v1/commission-lines`: what the partner earned, each with its whole lineage."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.experience.partner import repository
from app.experience.partner.deps import ERRORS, PERIOD_PATTERN, CurrencyFilter, PartnerID
from app.experience.partner.schemas import CommissionStatus, PartnerCommissionLine
from core.ids import id_pattern
from core.pagination import DEFAULT_PAGE_SIZE, Cursor, Page, PageSize
from process_apis.deps import SessionDep

router = APIRouter()

CommissionLineID = Annotated[str, Path(pattern=id_pattern("commission_line"))]


@router.get(
    "/commission-lines",
    response_model=Page[PartnerCommissionLine],
    operation_id="partner-commission-lines-list",
    summary="List the partner's commission lines",
    responses=ERRORS,
)
async def list_commission_lines(
    partner: PartnerID,
    session: SessionDep,
    period: Annotated[
        str | None,
        Query(
            pattern=PERIOD_PATTERN,
            description="Only payments of this month (`YYYY-MM`).",
            examples=["2026-11"],
        ),
    ] = None,
    status: Annotated[CommissionStatus | None, Query()] = None,
    currency: CurrencyFilter = None,
    cursor: Cursor = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> Page[PartnerCommissionLine]:
    """Commission lines, newest first: payment → invoice line → attribution → rate card
    version → commission → statement."""
    items, next_cursor = await repository.list_commission_lines(
        session,
        partner,
        period=period,
        status=status,
        currency=currency,
        cursor=cursor,
        limit=limit,
    )
    return Page[PartnerCommissionLine](items=items, next_cursor=next_cursor)


@router.get(
    "/commission-lines/{commission_line_id}",
    response_model=PartnerCommissionLine,
    operation_id="partner-commission-lines-get",
    summary="Get one of the partner's commission lines",
    responses=ERRORS,
)
async def get_commission_line(
    commission_line_id: CommissionLineID, partner: PartnerID, session: SessionDep
) -> PartnerCommissionLine:
    """One commission line with its lineage; another partner's is not found."""
    return await repository.get_commission_line(session, partner, commission_line_id)
