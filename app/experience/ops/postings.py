"""`/ops/v1/invoices/{id}/posting-mismatch`: an operator's decision on ERP totals that disagree."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import Field

from core.auth import Principal, requires
from core.canonical.base import InputModel
from core.ids import id_pattern
from core.problems import problem_responses
from process_apis.deps import ContextDep, CorrelationDep, SessionDep
from process_apis.idempotency import (
    IdempotencyKeyHeader,
    IdempotencyStore,
    Outcome,
    run_idempotently,
)
from process_apis.invoices import mismatch, service
from process_apis.invoices.schemas import InvoiceResource, PostingResult, PostingState

router = APIRouter(prefix="/ops/v1/invoices/{invoice_id}/posting-mismatch", tags=["ops"])

InvoiceID = Annotated[str, Path(pattern=id_pattern("invoice"))]
ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 415, 422)


class MismatchDecision(InputModel):
    reason: str = Field(min_length=1, max_length=1000, description="Why, for the audit trail.")


@router.post(
    "/accept",
    response_model=InvoiceResource,
    operation_id="ops-posting-mismatch-accept",
    summary="Accept the ERP's totals",
    responses=ERRORS,
)
async def accept(
    invoice_id: InvoiceID,
    data: MismatchDecision,
    request: Request,
    context: ContextDep,
    session: SessionDep,
    operator: Annotated[Principal, requires("ops:write")],
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Take the ERP's subtotal, tax and total for the invoice, which is then `posted`.

    Requires `Idempotency-Key`. Ours are kept on the resolved run with the reason.
    """

    async def handle() -> Outcome:
        await mismatch.accept_erp_totals(
            session, invoice_id=invoice_id, reason=data.reason, operator=operator.client_id
        )
        await session.commit()
        return Outcome(200, await service.get_invoice_resource(session, invoice_id))

    store = IdempotencyStore(context.sessionmaker, context.settings.idempotency_retention)
    return await run_idempotently(
        store, request, client_id=operator.client_id, key=idempotency_key, body=data, handler=handle
    )


@router.post(
    "/reverse",
    response_model=PostingResult,
    status_code=201,
    operation_id="ops-posting-mismatch-reverse",
    summary="Reverse the ERP document and post again",
    responses={
        202: {
            "description": "The ERP is unreachable: the run is queued for retry.",
            "model": PostingResult,
        },
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 502, 503),
    },
)
async def reverse(
    invoice_id: InvoiceID,
    data: MismatchDecision,
    request: Request,
    context: ContextDep,
    correlation_id: CorrelationDep,
    operator: Annotated[Principal, requires("ops:write")],
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Cancel the ERP document with an ERP credit memo, then post the invoice anew.

    Requires `Idempotency-Key`. `201` posted again; `202` queued; `502` the ERP's
    totals still differ (the invoice is held again).
    """

    async def handle() -> Outcome:
        result = await mismatch.PostingReversal(context).reverse(
            invoice_id=invoice_id,
            reason=data.reason,
            operator=operator.client_id,
            correlation_id=correlation_id,
        )
        if result.state == PostingState.PENDING_RETRY:
            return Outcome(202, result, {"Location": result.run_url})
        return Outcome(201, result, {"Location": f"/v1/invoices/{invoice_id}"})

    store = IdempotencyStore(context.sessionmaker, context.settings.idempotency_retention)
    return await run_idempotently(
        store, request, client_id=operator.client_id, key=idempotency_key, body=data, handler=handle
    )
