"""`/v2/invoices`: the v1 invoice operations with money as objects, on the same services."""

from __future__ import annotations

from fastapi import APIRouter, Response

from core.auth import requires
from core.pagination import Page
from core.problems import problem_responses
from process_apis.deps import SessionDep, TransactionDep
from process_apis.idempotency import (
    OptionalIdempotentWrite,
    Outcome,
)
from process_apis.invoices import service
from process_apis.invoices.params import InvoiceID
from process_apis.invoices.router import (
    LIST_DESCRIPTION,
    InvoiceStatusFilter,
    PostingKey,
    SubscriptionFilter,
    answer_posting,
)
from process_apis.invoices.schemas import PostingCreate
from process_apis.invoices.v2 import mapping
from process_apis.invoices.v2.schemas import InvoiceCreateV2, InvoiceV2, PostingResultV2
from process_apis.invoices.void_route import add_void_route
from process_apis.listing import CustomerFilter, ListQueryDep

PREFIX = "/v2/invoices"

router = APIRouter(prefix=PREFIX, tags=["invoices"])


@router.get(
    "",
    response_model=Page[InvoiceV2],
    operation_id="invoices-v2-list",
    dependencies=[requires("invoices:read")],
    summary="List invoices",
    description=LIST_DESCRIPTION,
    responses=problem_responses(400, 401, 403, 422),
)
async def list_invoices(
    session: SessionDep,
    listing: ListQueryDep,
    status: InvoiceStatusFilter = None,
    customer_id: CustomerFilter = None,
    subscription_id: SubscriptionFilter = None,
) -> Page[InvoiceV2]:
    page = await service.list_invoices(
        session,
        listing=listing,
        status=status,
        customer_id=customer_id,
        subscription_id=subscription_id,
    )
    return Page[InvoiceV2](
        items=[mapping.invoice(item) for item in page.items], next_cursor=page.next_cursor
    )


@router.post(
    "",
    response_model=InvoiceV2,
    status_code=201,
    operation_id="invoices-v2-create",
    dependencies=[requires("invoices:write")],
    summary="Register an invoice",
    responses=problem_responses(400, 401, 403, 409, 413, 415, 422),
)
async def create_invoice(
    data: InvoiceCreateV2, transaction: TransactionDep, idempotency: OptionalIdempotentWrite
) -> Response:
    """Register an invoice whose amounts share one currency and add up; not yet in the ERP.

    An `Idempotency-Key` makes a retry safe: it answers the invoice the key registered.
    """

    async def handle() -> Outcome:
        canonical = mapping.invoice_create(data)
        async with transaction() as session:
            with mapping.v2_pointers():
                invoice = await service.register_invoice(session, data=canonical)
        return Outcome(201, mapping.invoice(invoice), {"Location": f"{PREFIX}/{invoice.id}"})

    return await idempotency(data, handle)


@router.get(
    "/{invoice_id}",
    response_model=InvoiceV2,
    operation_id="invoices-v2-get",
    dependencies=[requires("invoices:read")],
    summary="Get an invoice",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_invoice(invoice_id: InvoiceID, session: SessionDep) -> InvoiceV2:
    """An invoice with its lines, its totals, its ERP posting and its latest posting run."""
    return mapping.invoice(await service.get_invoice_resource(session, invoice_id))


@router.post(
    "/{invoice_id}/postings",
    response_model=PostingResultV2,
    status_code=201,
    operation_id="invoices-v2-post",
    dependencies=[requires("invoices:post")],
    summary="Post an invoice to the ERP",
    responses={
        200: {"description": "Already posted: the existing posting.", "model": PostingResultV2},
        202: {
            "description": "A backend is down: the run is queued for retry; follow `run.url`.",
            "model": PostingResultV2,
        },
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 502, 503),
    },
)
async def post_invoice(
    invoice_id: InvoiceID,
    data: PostingCreate,
    idempotency: PostingKey,
) -> Response:
    """Post the invoice to the ERP, exactly as `/v1` does; requires `Idempotency-Key`."""

    return await answer_posting(
        idempotency,
        invoice_id,
        data,
        body=mapping.posting_result,
        location=f"{PREFIX}/{invoice_id}",
    )


add_void_route(router, operation_id="invoices-v2-void")
