"""A partner's attributed customers and their invoices.

Every query is scoped to the token's partner: another partner's object is not
found (404), never forbidden, so ids cannot be probed for existence.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from app.core.auth import Forbidden, Principal, requires
from app.core.canonical.documents import Invoice, InvoiceStatus
from app.core.canonical.parties import Customer, CustomerStatus
from app.core.errors import NotFound
from app.core.ids import id_pattern
from app.core.models.customer import CustomerRow
from app.core.models.invoice import InvoiceRow
from app.core.pagination import DEFAULT_PAGE_SIZE, Cursor, Page, PageSize, keyset_page
from app.core.problems import problem_responses
from process_apis.deps import SessionDep

router = APIRouter(prefix="/partner/v1", tags=["partner"])

CustomerID = Annotated[str, Path(pattern=id_pattern("customer"))]
InvoiceID = Annotated[str, Path(pattern=id_pattern("invoice"))]


class PartnerBindingRequired(Forbidden):
    slug = "partner-binding-required"
    title = "This API needs a partner-bound token"


async def partner_id(principal: Annotated[Principal, requires("partner:read")]) -> str:
    if principal.partner_id is None:
        raise PartnerBindingRequired("the token is not bound to a partner")
    return principal.partner_id


PartnerID = Annotated[str, Depends(partner_id)]
ERRORS = problem_responses(400, 401, 403, 404, 422)


def _own_customers(partner: str) -> Select[CustomerRow]:
    return select(CustomerRow).where(CustomerRow.partner_id == partner)


def _own_invoices(partner: str) -> Select[InvoiceRow]:
    return (
        select(InvoiceRow)
        .join(CustomerRow, CustomerRow.id == InvoiceRow.customer_id)
        .where(CustomerRow.partner_id == partner)
        .options(selectinload(InvoiceRow.lines))
    )


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
    query = _own_customers(partner)
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
    row = await session.scalar(_own_customers(partner).where(CustomerRow.id == customer_id))
    if row is None:
        raise NotFound(f"no customer {customer_id}")
    return Customer.model_validate(row)


@router.get(
    "/invoices",
    response_model=Page[Invoice],
    operation_id="partner-invoices-list",
    summary="List the partner's invoices",
    responses=ERRORS,
)
async def list_invoices(
    partner: PartnerID,
    session: SessionDep,
    status: Annotated[InvoiceStatus | None, Query()] = None,
    cursor: Cursor = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> Page[Invoice]:
    """Invoices of the partner's customers with their posting and payment status."""
    query = _own_invoices(partner)
    if status is not None:
        query = query.where(InvoiceRow.status == status)
    rows, cursor_out = await keyset_page(session, query, InvoiceRow.id, cursor=cursor, limit=limit)
    return Page[Invoice](items=[Invoice.model_validate(r) for r in rows], next_cursor=cursor_out)


@router.get(
    "/invoices/{invoice_id}",
    response_model=Invoice,
    operation_id="partner-invoices-get",
    summary="Get one of the partner's invoices",
    responses=ERRORS,
)
async def get_invoice(invoice_id: InvoiceID, partner: PartnerID, session: SessionDep) -> Invoice:
    """One invoice of an attributed customer; any other invoice is not found."""
    row = await session.scalar(_own_invoices(partner).where(InvoiceRow.id == invoice_id))
    if row is None:
        raise NotFound(f"no invoice {invoice_id}")
    return Invoice.model_validate(row)
