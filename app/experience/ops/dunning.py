"""`GET /ops/v1/dunning`: the customers in dunning or suspended, newest case first."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import requires
from core.canonical.dunning import CustomerDunning, DunningAccount
from core.models.customer import CustomerRow
from core.models.dunning import DunningCaseRow, DunningStatus
from core.pagination import DEFAULT_PAGE_SIZE, Cursor, Page, PageSize, keyset_page
from core.problems import problem_responses
from process_apis.deps import SessionDep

router = APIRouter(prefix="/ops/v1/dunning", tags=["ops"])

OPEN = (DunningStatus.DUNNING, DunningStatus.SUSPENDED)


async def list_accounts(
    session: AsyncSession,
    *,
    status: Literal["dunning", "suspended"] | None,
    legal_entity_id: str | None,
    cursor: str | None,
    limit: int,
) -> Page[DunningAccount]:
    wanted = OPEN if status is None else (DunningStatus(status),)
    query = (
        select(DunningCaseRow)
        .join(CustomerRow, CustomerRow.id == DunningCaseRow.customer_id)
        .where(DunningCaseRow.status.in_(wanted))
    )
    if legal_entity_id is not None:
        query = query.where(CustomerRow.legal_entity_id == legal_entity_id)
    cases, next_cursor = await keyset_page(
        session, query, DunningCaseRow.id, cursor=cursor, limit=limit
    )
    customers = {
        row.id: row
        for row in await session.scalars(
            select(CustomerRow).where(CustomerRow.id.in_([case.customer_id for case in cases]))
        )
    }
    items = [
        DunningAccount(
            **CustomerDunning.of(case).model_dump(),
            customer_id=case.customer_id,
            customer_name=customers[case.customer_id].name,
            legal_entity_id=customers[case.customer_id].legal_entity_id,
        )
        for case in cases
    ]
    return Page[DunningAccount](items=items, next_cursor=next_cursor)


@router.get(
    "",
    response_model=Page[DunningAccount],
    operation_id="ops-dunning-list",
    summary="List customers in dunning",
    dependencies=[requires("ops:read")],
    responses=problem_responses(400, 401, 403, 422),
)
async def list_dunning(
    session: SessionDep,
    status: Annotated[
        Literal["dunning", "suspended"] | None,
        Query(description="Only customers in this state; both when left out."),
    ] = None,
    legal_entity_id: Annotated[
        str | None, Query(max_length=40, description="Only customers of this legal entity.")
    ] = None,
    cursor: Cursor = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> Page[DunningAccount]:
    """Customers whose payment failed (`dunning`, with the day suspension is due) and those
    suspended, newest case first; follow `next_cursor` for more."""
    return await list_accounts(
        session, status=status, legal_entity_id=legal_entity_id, cursor=cursor, limit=limit
    )
