"""`/partner/v1/customers`: the customers attributed to the token's partner."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.experience.partner.deps import ERRORS, PartnerID
from app.experience.partner.repository import own_customers
from core.canonical.parties import Customer, CustomerStatus
from core.errors import NotFound
from core.ids import id_pattern
from core.models.customer import CustomerRow
from core.pagination import DEFAULT_PAGE_SIZE, Cursor, Page, PageSize, keyset_page
from process_apis.deps import SessionDep

router = APIRouter()

CustomerID = Annotated[str, Path(pattern=id_pattern("customer"))]


@router.get(
    "/customers",
    response_model=Page[Customer],
    operation_id="partner-customers-list",
    summary="List the partner's customers",
    responses=ERRORS,
)
async def list_customers(
    partner: PartnerID,
    session: SessionDep,
    status: Annotated[CustomerStatus | None, Query()] = None,
    cursor: Cursor = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> Page[Customer]:
    """Customers attributed to the token's partner, newest first."""
    query = own_customers(partner)
    if status is not None:
        query = query.where(CustomerRow.status == status)
    rows, cursor_out = await keyset_page(session, query, CustomerRow.id, cursor=cursor, limit=limit)
    return Page[Customer](items=[Customer.model_validate(r) for r in rows], next_cursor=cursor_out)


@router.get(
    "/customers/{customer_id}",
    response_model=Customer,
    operation_id="partner-customers-get",
    summary="Get one of the partner's customers",
    responses=ERRORS,
)
async def get_customer(
    customer_id: CustomerID, partner: PartnerID, session: SessionDep
) -> Customer:
    """One attributed customer; any other customer is not found."""
    row = await session.scalar(own_customers(partner).where(CustomerRow.id == customer_id))
    if row is None:
        raise NotFound(f"no customer {customer_id}")
    return Customer.model_validate(row)
