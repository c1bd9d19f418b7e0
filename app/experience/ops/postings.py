"""`/ops/v1/invoices/{id}/posting-mismatch`: an operator's decision on ERP totals that disagree."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import Field

from core.auth import requires
from core.canonical.base import InputModel
from core.ids import id_pattern
from core.problems import problem_responses
from process_apis.deps import CallerDep, ContextDep, TransactionDep
from process_apis.idempotency import IdempotentWrite, Outcome
from process_apis.invoices import mismatch
from process_apis.invoices.schemas import InvoiceResource, PostingResult, PostingState

router = APIRouter(
    prefix="/ops/v1/invoices/{invoice_id}/posting-mismatch",
    tags=["ops"],
    dependencies=[requires("ops:write")],
)

InvoiceID = Annotated[str, Path(pattern=id_pattern("invoice"))]


class MismatchDecision(InputModel):
    reason: str = Field(min_length=1, max_length=1000, description="Why, for the audit trail.")


@router.post(
    "/accept",
    response_model=InvoiceResource,
    operation_id="ops-posting-mismatch-accept",
    summary="Accept the ERP's totals",
    responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
)
async def accept(
    invoice_id: InvoiceID,
    data: MismatchDecision,
    transaction: TransactionDep,
    caller: CallerDep,
    idempotency: IdempotentWrite,
) -> Response:
    """Take the ERP's subtotal, tax and total for the invoice, which is then `posted`.

    Ours are kept on the resolved posting run, with the operator and the reason.
    """

    async def handle() -> Outcome:
        invoice = await mismatch.accept(
            transaction, invoice_id=invoice_id, reason=data.reason, operator=caller.client_id
        )
        return Outcome(200, invoice)

    return await idempotency(data, handle)


@router.post(
    "/reverse",
    response_model=PostingResult,
    status_code=201,
    operation_id="ops-posting-mismatch-reverse",
    summary="Reverse the ERP document and post again",
    responses={
        202: {
            "description": "The ERP is unreachable: the reversal is queued; follow `run_url`.",
            "model": PostingResult,
        },
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 502, 503),
    },
)
async def reverse(
    invoice_id: InvoiceID,
    data: MismatchDecision,
    context: ContextDep,
    caller: CallerDep,
    idempotency: IdempotentWrite,
) -> Response:
    """Cancel the ERP document with an ERP credit memo, then post the invoice anew.

    `201` posted again; `202` queued; `502` the ERP's totals still differ (the invoice
    is held again) or its credit memo would not cancel the document exactly.
    """

    async def handle() -> Outcome:
        result = await mismatch.PostingReversal(context).reverse(
            invoice_id=invoice_id,
            reason=data.reason,
            operator=caller.client_id,
            correlation_id=caller.correlation_id,
        )
        if result.state == PostingState.PENDING_RETRY:
            return Outcome(202, result, {"Location": result.run_url})
        return Outcome(201, result, {"Location": f"/v1/invoices/{invoice_id}"})

    return await idempotency(data, handle)
