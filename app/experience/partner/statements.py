"""`/partner/v1/statements`: the partner's settlement statement of each month, conditional.

Both reads carry a strong `ETag`; a client that sends it back in `If-None-Match`
gets `304 Not Modified` until the statement (a status, a total, a new settlement)
changes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from app.experience.partner import repository
from app.experience.partner.deps import ERRORS, PERIOD_PATTERN, CurrencyFilter, PartnerID
from app.experience.partner.etag import IfNoneMatch, conditional, etag_responses
from app.experience.partner.schemas import Statement
from core.canonical.documents import SettlementStatus
from core.pagination import DEFAULT_PAGE_SIZE, Cursor, Page, PageSize
from process_apis.deps import SessionDep

router = APIRouter()

Period = Annotated[
    str, Path(pattern=PERIOD_PATTERN, description="The month, `YYYY-MM`.", examples=["2026-11"])
]


@router.get(
    "/statements",
    response_model=Page[Statement],
    operation_id="partner-statements-list",
    summary="List the partner's settlement statements",
    responses={**etag_responses(Page[Statement]), **ERRORS},
)
async def list_statements(
    partner: PartnerID,
    session: SessionDep,
    currency: CurrencyFilter = None,
    status: Annotated[
        SettlementStatus | None, Query(description="Only settlements in this status.")
    ] = None,
    cursor: Cursor = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """A statement per month, newest first, with totals by currency and its settlements."""
    items, next_cursor = await repository.list_statements(
        session, partner, currency=currency, status=status, cursor=cursor, limit=limit
    )
    return conditional(Page[Statement](items=items, next_cursor=next_cursor), if_none_match)


@router.get(
    "/statements/{period}",
    response_model=Statement,
    operation_id="partner-statements-get",
    summary="Get the partner's settlement statement of a month",
    responses={**etag_responses(Statement), **ERRORS},
)
async def get_statement(
    period: Period, partner: PartnerID, session: SessionDep, if_none_match: IfNoneMatch = None
) -> Response:
    """The month's settlements (one per legal entity and currency) with totals by currency."""
    return conditional(await repository.get_statement(session, partner, period), if_none_match)
