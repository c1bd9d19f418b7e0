"""`/v1/posting-batches`: many invoices posted to the ERP as bulk work."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path, Response

from core.auth import requires
from core.ids import id_pattern
from core.problems import problem_responses
from process_apis.deps import CallerDep, ContextDep, SessionDep, TransactionDep
from process_apis.idempotency import IdempotentWrite, Outcome
from process_apis.posting_batches import service
from process_apis.posting_batches.executor import PostingBatchExecutor
from process_apis.posting_batches.schemas import PostingBatchCreate, PostingBatchResource

PostingBatchID = Annotated[
    str, Path(pattern=id_pattern("posting_batch"), examples=["pbt_01jd0000000000000000000000"])
]

router = APIRouter(prefix="/v1/posting-batches", tags=["posting-batches"])


@router.post(
    "",
    response_model=PostingBatchResource,
    status_code=202,
    operation_id="posting-batches-create",
    dependencies=[requires("invoices:post")],
    summary="Post many invoices to the ERP as bulk work",
    responses=problem_responses(400, 401, 403, 409, 413, 415, 422),
)
async def create_posting_batch(
    data: PostingBatchCreate,
    context: ContextDep,
    transaction: TransactionDep,
    caller: CallerDep,
    idempotency: IdempotentWrite,
    background: BackgroundTasks,
) -> Response:
    """Queue the invoices' postings, each with its own run; follow the batch's `Location`.

    Requires `Idempotency-Key`. Answers `202` at once: the invoices are posted in bulk
    requests to the ERP (Business Central `$batch`, NetSuite in parallel) within the
    share of its budget that live postings leave, and each item shows its outcome.
    """

    async def handle() -> Outcome:
        async with transaction() as session:
            batch = await service.accept(session, data=data, caller=caller)
        background.add_task(PostingBatchExecutor(context).run, batch.id)
        return Outcome(202, batch, {"Location": f"/v1/posting-batches/{batch.id}"})

    return await idempotency(data, handle)


@router.get(
    "/{batch_id}",
    response_model=PostingBatchResource,
    operation_id="posting-batches-get",
    dependencies=[requires("invoices:read")],
    summary="Get a posting batch",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_posting_batch(batch_id: PostingBatchID, session: SessionDep) -> PostingBatchResource:
    """The batch's status and each invoice's outcome, with its posting run."""
    return await service.resource(session, batch_id)
