"""`/v1/credit-memos`: support credits and corrections, their approval and their issue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from core.auth import requires
from core.canonical.documents import CreditMemo, CreditMemoKind, CreditMemoStatus
from core.ids import id_pattern
from core.models.workflow_run import RunStatus
from core.pagination import Page
from core.problems import problem_responses
from process_apis.credit_memos import repository, service
from process_apis.credit_memos.schemas import (
    CreditMemoApproval,
    CreditMemoCreate,
    CreditMemoResource,
)
from process_apis.credit_memos.workflow import CreditMemoWorkflow
from process_apis.deps import CallerDep, ContextDep, SessionDep
from process_apis.idempotency import IdempotentWrite, Outcome
from process_apis.listing import CustomerFilter, InvoiceFilter, ListQueryDep

CreditMemoID = Annotated[
    str, Path(pattern=id_pattern("credit_memo"), examples=["cm_01jd0000000000000000000000"])
]

router = APIRouter(prefix="/v1/credit-memos", tags=["credit-memos"])

QUEUED = {
    "description": "A backend is down: the run is queued for retry; follow `run_url`.",
    "model": CreditMemoResource,
}


def credit_memo_outcome(memo: CreditMemoResource, created: bool) -> Outcome:
    location = {"Location": f"/v1/credit-memos/{memo.id}"}
    if memo.last_run is not None and memo.last_run.status == RunStatus.PENDING_RETRY:
        return Outcome(202, memo, {"Location": memo.run_url or location["Location"]})
    return Outcome(201 if created else 200, memo, location)


@router.post(
    "",
    response_model=CreditMemoResource,
    status_code=201,
    operation_id="credit-memos-create",
    dependencies=[requires("credit_memos:write")],
    summary="Request a credit memo for a support case",
    responses={202: QUEUED, **problem_responses(400, 401, 403, 409, 413, 415, 422, 502, 503)},
)
async def create_credit_memo(
    data: CreditMemoCreate,
    context: ContextDep,
    caller: CallerDep,
    idempotency: IdempotentWrite,
) -> Response:
    """Request a credit on a posted invoice; above the approval threshold it awaits approval.

    Requires `Idempotency-Key`. `201` with `status` `requested` (awaiting a client with
    `credit_memos:approve`) or `posted` (under the threshold: issued at once), `202` a
    backend is down and the run is queued.
    """
    workflow = CreditMemoWorkflow(context)

    async def handle() -> Outcome:
        memo = await workflow.request(
            data,
            principal=caller.principal,
            correlation_id=caller.correlation_id,
            request_key=f"{idempotency.client_id}:{idempotency.key}",
        )
        return credit_memo_outcome(memo, created=True)

    return await idempotency(data, handle)


@router.get(
    "",
    response_model=Page[CreditMemo],
    operation_id="credit-memos-list",
    dependencies=[requires("credit_memos:read")],
    summary="List credit memos",
    responses=problem_responses(400, 401, 403, 422),
)
async def list_credit_memos(
    session: SessionDep,
    listing: ListQueryDep,
    status: Annotated[
        CreditMemoStatus | None, Query(description="Only credit memos in this status.")
    ] = None,
    customer_id: CustomerFilter = None,
    invoice_id: InvoiceFilter = None,
    kind: Annotated[
        CreditMemoKind | None,
        Query(description="Only support credits (`support`) or corrections (`correction`)."),
    ] = None,
) -> Page[CreditMemo]:
    """Credit memos, newest first; `date_from`/`date_to` filter on the day each was requested."""
    return await repository.list_credit_memos(
        session,
        listing=listing,
        status=status,
        customer_id=customer_id,
        invoice_id=invoice_id,
        kind=kind,
    )


@router.get(
    "/{credit_memo_id}",
    response_model=CreditMemoResource,
    operation_id="credit-memos-get",
    dependencies=[requires("credit_memos:read")],
    summary="Get a credit memo",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_credit_memo(credit_memo_id: CreditMemoID, context: ContextDep) -> CreditMemoResource:
    """A credit memo, its approval, its documents in each backend and its latest run."""
    return await CreditMemoWorkflow(context).read(credit_memo_id)


@router.post(
    "/{credit_memo_id}/approve",
    response_model=CreditMemoResource,
    operation_id="credit-memos-approve",
    dependencies=[requires("credit_memos:approve")],
    summary="Approve a credit memo and issue it",
    responses={202: QUEUED, **problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 502, 503)},
)
async def approve_credit_memo(
    credit_memo_id: CreditMemoID,
    data: CreditMemoApproval,
    context: ContextDep,
    caller: CallerDep,
    idempotency: IdempotentWrite,
) -> Response:
    """Approve the credit, then issue it: ERP credit memo, billing credit note, support desk
    (a correction: ERP credit memo and billing credit note).

    Requires `Idempotency-Key`. `200` issued (or issued before), `202` a backend is down
    and the run is queued; approving again resumes a queued or failed run.
    """

    async def handle() -> Outcome:
        memo = await service.approve(
            context,
            credit_memo_id,
            approver=caller.client_id,
            correlation_id=caller.correlation_id,
            note=data.note,
        )
        return credit_memo_outcome(memo, created=False)

    return await idempotency(data, handle)
