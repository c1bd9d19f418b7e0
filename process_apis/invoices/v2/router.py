"""`/v2/invoices`: the v1 invoice operations with money as objects, on the same services."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from core.auth import principal_of, requires
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
from process_apis.invoices.router import (
    LIST_DESCRIPTION,
    InvoiceID,
    InvoiceStatusFilter,
    SubscriptionFilter,
)
from process_apis.invoices.schemas import PostingCreate, PostingState
from process_apis.invoices.v2 import mapping
from process_apis.invoices.v2.schemas import InvoiceCreateV2, InvoiceV2, PostingResultV2
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
    responses=problem_responses(400, 401, 403, 413, 415, 422),
)
async def create_invoice(
    data: InvoiceCreateV2, session: SessionDep, response: Response
) -> InvoiceV2:
    """Register an invoice whose amounts share one currency and add up; not yet in the ERP."""
    canonical = mapping.invoice_create(data)
    with mapping.v2_pointers():
        invoice = await service.create_invoice(session, data=canonical)
    await session.commit()
    response.headers["Location"] = f"{PREFIX}/{invoice.id}"
    return mapping.invoice(await service.get_invoice_resource(session, invoice.id))


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
    request: Request,
    context: ContextDep,
    client_id: ClientIdDep,
    correlation_id: CorrelationDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Post the invoice to the ERP, exactly as `/v1` does; requires `Idempotency-Key`."""
    workflow = InvoicePostingWorkflow(context)

    async def handle() -> Outcome:
        result = await workflow.post(
            invoice_id=invoice_id,
            request=data,
            client_id=client_id,
            correlation_id=correlation_id,
            principal=principal_of(request),
        )
        body = mapping.posting_result(result)
        if result.state == PostingState.PENDING_RETRY:
            return Outcome(202, body, {"Location": result.run_url})
        status = 200 if result.already_posted else 201
        return Outcome(status, body, {"Location": f"{PREFIX}/{invoice_id}"})

    store = IdempotencyStore(context.sessionmaker, context.settings.idempotency_retention)
    return await run_idempotently(
        store, request, client_id=client_id, key=idempotency_key, body=data, handler=handle
    )
