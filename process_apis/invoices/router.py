"""`/v1/invoices`: register invoices and post them to the ERP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel

from core.auth import requires
from core.canonical.documents import InvoiceCreate, InvoiceStatus
from core.ids import id_pattern
from core.pagination import Page
from core.problems import problem_responses
from process_apis.deps import SessionDep, TransactionDep, caller_of, context_of
from process_apis.idempotency import (
    _KEY,
    Closing,
    Idempotency,
    Opening,
    OptionalIdempotentWrite,
    Outcome,
    released_required_key,
)
from process_apis.invoices import service
from process_apis.invoices.params import InvoiceID
from process_apis.invoices.schemas import (
    InvoiceResource,
    PostingCreate,
    PostingResult,
    PostingState,
)
from process_apis.invoices.void_route import add_void_route
from process_apis.listing import CustomerFilter, ListQueryDep

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


async def posting_key(request: Request, key: Annotated[str | None, _KEY] = None) -> Idempotency:
    """`ReleasedIdempotentWrite` as one dependency: its context and caller are read from the
    request here rather than solved by FastAPI as two more (a few hundred calls a posting)."""
    return await released_required_key(request, context_of(request), caller_of(request), key)


PostingKey = Annotated[Idempotency, Depends(posting_key)]


def posting_outcome(result: PostingResult, body: BaseModel, location: str) -> Outcome:
    """`201` posted now, `200` posted before, `202` queued (pointing at its run)."""
    if result.state == PostingState.PENDING_RETRY:
        return Outcome(202, body, {"Location": result.run_url})
    return Outcome(200 if result.already_posted else 201, body, {"Location": location})


def answer_posting(
    idempotency: Idempotency,
    invoice_id: str,
    data: PostingCreate,
    *,
    body: Callable[[PostingResult], BaseModel],
    location: str,
) -> Awaitable[Response]:
    """Post the invoice under the request's `Idempotency-Key`; the answer is `body(result)`.

    The context and the caller come from the request the key's dependency already took, so
    the route solves one dependency, not three; and this returns the key's run to await,
    not a coroutine of its own that the request's task would resume at every wait.
    """

    opening, closing = Opening(), Closing()
    context, caller = context_of(idempotency.request), caller_of(idempotency.request)

    async def handle() -> Outcome:
        result = await service.post_invoice(
            context,
            invoice_id=invoice_id,
            request=data,
            caller=caller,
            opening=opening,
            closing=closing,
        )
        return posting_outcome(result, body(result), location)

    return idempotency(data, handle, closing, opening)


@router.post(
    "",
    response_model=InvoiceResource,
    status_code=201,
    operation_id="invoices-create",
    deprecated=True,
    openapi_extra={"x-successor-version": "/v2/invoices"},
    dependencies=[requires("invoices:write")],
    summary="Register an invoice",
    responses=problem_responses(400, 401, 403, 409, 413, 415, 422),
)
async def create_invoice(
    data: InvoiceCreate, transaction: TransactionDep, idempotency: OptionalIdempotentWrite
) -> Response:
    """Register an invoice; its lines must add up to its totals. It is not yet in the ERP.

    An `Idempotency-Key` makes a retry safe: it answers the invoice the key registered.
    """

    async def handle() -> Outcome:
        async with transaction() as session:
            invoice = await service.register_invoice(session, data=data)
        return Outcome(201, invoice, {"Location": f"/v1/invoices/{invoice.id}"})

    return await idempotency(data, handle)


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
    idempotency: PostingKey,
) -> Response:
    """Post the invoice to the ERP: period, tax and customer checks, then the ERP document.

    Requires `Idempotency-Key`. `201` posted now, `200` was already posted, `202`
    the ERP is unreachable and the run is queued (never half-posted).
    """

    return await answer_posting(
        idempotency,
        invoice_id,
        data,
        body=lambda result: result,
        location=f"/v1/invoices/{invoice_id}",
    )


add_void_route(router, operation_id="invoices-void", successor="/v2/invoices/{invoice_id}/void")
