"""`/v1/invoices`: register invoices and post them to the ERP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from core.auth import principal_of, requires
from core.canonical.documents import InvoiceCreate, InvoiceStatus
from core.ids import id_pattern
from core.pagination import Page
from core.problems import problem_responses
from process_apis.deps import ClientIdDep, ContextDep, CorrelationDep, SessionDep
from process_apis.idempotency import (
    IdempotencyKeyHeader,
    IdempotencyStore,
    Outcome,
    run_idempotently,
)
from process_apis.invoices import service
from process_apis.invoices.posting import InvoicePostingWorkflow
from process_apis.invoices.schemas import (
    InvoiceResource,
    PostingCreate,
    PostingResult,
    PostingState,
)
from process_apis.listing import CustomerFilter, ListQueryDep

InvoiceID = Annotated[
    str, Path(pattern=id_pattern("invoice"), examples=["inv_01jd0000000000000000000000"])
]

InvoiceStatusFilter = Annotated[
    InvoiceStatus | None, Query(description="Only invoices in this status.")
]
SubscriptionFilter = Annotated[
    str | None,
    Query(pattern=id_pattern("subscription"), description="Only this subscription's invoices."),
]
LIST_DESCRIPTION = (
    "Newest first; `date_from`/`date_to` filter on the invoice date. Follow `next_cursor`."
)

router = APIRouter(prefix="/v1/invoices", tags=["invoices"])


@router.get(
    "",
    response_model=Page[InvoiceResource],
    operation_id="invoices-list",
    deprecated=True,
    openapi_extra={"x-successor-version": "/v2/invoices"},
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
) -> Page[InvoiceResource]:
    return await service.list_invoices(
        session,
        listing=listing,
        status=status,
        customer_id=customer_id,
        subscription_id=subscription_id,
    )


@router.post(
    "",
    response_model=InvoiceResource,
    status_code=201,
    operation_id="invoices-create",
    deprecated=True,
    openapi_extra={"x-successor-version": "/v2/invoices"},
    dependencies=[requires("invoices:write")],
    summary="Register an invoice",
    responses=problem_responses(400, 401, 403, 413, 415, 422),
)
async def create_invoice(
    data: InvoiceCreate, session: SessionDep, response: Response
) -> InvoiceResource:
    """Register an invoice; its lines must add up to its totals. It is not yet in the ERP."""
    invoice = await service.create_invoice(session, data=data)
    await session.commit()
    response.headers["Location"] = f"/v1/invoices/{invoice.id}"
    return await service.get_invoice_resource(session, invoice.id)


@router.get(
    "/{invoice_id}",
    response_model=InvoiceResource,
    operation_id="invoices-get",
    deprecated=True,
    openapi_extra={"x-successor-version": "/v2/invoices/{invoice_id}"},
    dependencies=[requires("invoices:read")],
    summary="Get an invoice",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_invoice(invoice_id: InvoiceID, session: SessionDep) -> InvoiceResource:
    """An invoice with its lines, its ERP posting status and its latest posting run."""
    return await service.get_invoice_resource(session, invoice_id)


@router.post(
    "/{invoice_id}/postings",
    response_model=PostingResult,
    status_code=201,
    operation_id="invoices-post",
    deprecated=True,
    openapi_extra={"x-successor-version": "/v2/invoices/{invoice_id}/postings"},
    dependencies=[requires("invoices:post")],
    summary="Post an invoice to the ERP",
    responses={
        200: {"description": "Already posted: the existing posting.", "model": PostingResult},
        202: {
            "description": "A backend is down: the run is queued for retry; follow `run_url`.",
            "model": PostingResult,
        },
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 502, 503),
    },
)
async def post_invoice(
    invoice_id: InvoiceID,
    data: PostingCreate,
    request: Request,
    context: ContextDep,
    client_id: ClientIdDep,
    correlation_id: CorrelationDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Post the invoice to the ERP: period, tax and customer checks, then the ERP document.

    Requires `Idempotency-Key`. `201` posted now, `200` was already posted, `202`
    the ERP is unreachable and the run is queued (never half-posted).
    """
    workflow = InvoicePostingWorkflow(context)

    async def handle() -> Outcome:
        result = await workflow.post(
            invoice_id=invoice_id,
            request=data,
            client_id=client_id,
            correlation_id=correlation_id,
            principal=principal_of(request),
        )
        if result.state == PostingState.PENDING_RETRY:
            return Outcome(202, result, {"Location": result.run_url})
        status = 200 if result.already_posted else 201
        return Outcome(status, result, {"Location": f"/v1/invoices/{invoice_id}"})

    store = IdempotencyStore(context.sessionmaker, context.settings.idempotency_retention)
    return await run_idempotently(
        store, request, client_id=client_id, key=idempotency_key, body=data, handler=handle
    )
