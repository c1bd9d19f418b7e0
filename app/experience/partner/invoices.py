"""`/partner/v1/invoices`: invoices of the partner's customers and how far they are paid."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.experience.partner import repository
from app.experience.partner.deps import ERRORS, CustomerFilter, PartnerID
from app.experience.partner.schemas import PartnerInvoice
from core.canonical.documents import InvoiceStatus
from core.ids import id_pattern
from core.pagination import DEFAULT_PAGE_SIZE, Cursor, Page, PageSize
from process_apis.deps import SessionDep

router = APIRouter()

InvoiceID = Annotated[str, Path(pattern=id_pattern("invoice"))]


@router.get(
    "/invoices",
    response_model=Page[PartnerInvoice],
    operation_id="partner-invoices-list",
    summary="List the partner's invoices",
    responses=ERRORS,
)
async def list_invoices(
    partner: PartnerID,
    session: SessionDep,
    status: Annotated[InvoiceStatus | None, Query()] = None,
    customer_id: CustomerFilter = None,
    cursor: Cursor = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> Page[PartnerInvoice]:
    """Invoices of the partner's customers with their posting status and payments."""
    items, next_cursor = await repository.list_invoices(
        session, partner, status=status, customer_id=customer_id, cursor=cursor, limit=limit
    )
    return Page[PartnerInvoice](items=items, next_cursor=next_cursor)


@router.get(
    "/invoices/{invoice_id}",
    response_model=PartnerInvoice,
    operation_id="partner-invoices-get",
    summary="Get one of the partner's invoices",
    responses=ERRORS,
)
async def get_invoice(
    invoice_id: InvoiceID, partner: PartnerID, session: SessionDep
) -> PartnerInvoice:
    """One invoice of an attributed customer with its payments; any other is not found."""
    return await repository.get_invoice(session, partner, invoice_id)
