"""`POST /v1/invoices/{invoice_id}/corrections`: a posted invoice corrected by a credit memo."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from core.auth import requires
from core.ids import id_pattern
from core.problems import problem_responses
from process_apis.credit_memos.corrections import CorrectionWorkflow, Requester
from process_apis.credit_memos.router import QUEUED, credit_memo_outcome
from process_apis.credit_memos.schemas import CorrectionCreate, CreditMemoResource
from process_apis.deps import CallerDep, ContextDep
from process_apis.idempotency import IdempotentWrite, Outcome

InvoiceID = Annotated[
    str, Path(pattern=id_pattern("invoice"), examples=["inv_01jd0000000000000000000000"])
]

router = APIRouter(prefix="/v1/invoices", tags=["credit-memos"])


@router.post(
    "/{invoice_id}/corrections",
    response_model=CreditMemoResource,
    status_code=201,
    operation_id="invoices-correct",
    dependencies=[requires("credit_memos:write")],
    summary="Correct a posted invoice with a credit memo",
    responses={202: QUEUED, **problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 502, 503)},
)
async def correct_invoice(
    invoice_id: InvoiceID,
    data: CorrectionCreate,
    context: ContextDep,
    caller: CallerDep,
    idempotency: IdempotentWrite,
) -> Response:
    """Credit the whole invoice, or given lines by quantity or amount, with their tax share.

    Requires `Idempotency-Key`. The credit memo names the invoice and its lines and is
    posted to the ERP applied to the invoice (and as a credit note in billing when the
    invoice came from there). `201` with `status` `posted`, or `requested` when the
    invoice's credits add up to more than the approval threshold (another client with
    `credit_memos:approve` approves it at `/v1/credit-memos/{id}/approve`); `202` a
    backend is down and the run is queued. `409 invoice-not-correctable` for an invoice
    that is not posted; `422 credit-exceeds-invoice` or `correction-exceeds-line` when
    the invoice's credits would exceed its total or a line's amount or quantity.
    """
    workflow = CorrectionWorkflow(context)
    requester = Requester(
        client_id=caller.client_id,
        correlation_id=caller.correlation_id,
        request_key=f"{idempotency.client_id}:{idempotency.key}",
        principal=caller.principal,
    )

    async def handle() -> Outcome:
        memo = await workflow.correct(invoice_id, data, by=requester)
        return credit_memo_outcome(memo, created=True)

    return await idempotency(data, handle)
