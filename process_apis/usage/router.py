"""`/v1/usage-events`: metered usage in batches, answered per event."""

from __future__ import annotations

from fastapi import APIRouter

from core.auth import requires
from core.problems import problem_responses
from process_apis.deps import CallerDep, ContextDep
from process_apis.usage.schemas import UsageBatch, UsageBatchResult
from process_apis.usage.service import UsageIngestion

router = APIRouter(prefix="/v1/usage-events", tags=["usage"])


@router.post(
    "",
    response_model=UsageBatchResult,
    operation_id="usage-events-create",
    dependencies=[requires("usage:write")],
    summary="Send a batch of usage events",
    responses=problem_responses(400, 401, 403, 413, 415, 422, 503),
)
async def create_usage_events(
    batch: UsageBatch, context: ContextDep, caller: CallerDep
) -> UsageBatchResult:
    """Up to 1,000 usage events, each answered in its place: `accepted` (with the billing
    period it counts in, `late` when that period's grace window had passed, `flagged`
    when over the meter's cap), `duplicate` (the client sent this id with this body
    before: nothing changes), or `rejected` with a problem whose `errors` point into the
    batch (`#/events/3/quantity`). The answer is `200` whatever the outcomes.

    Each event's `id` is its idempotency key, per client: no `Idempotency-Key` header is
    needed, and a batch sent again (or concurrently) stores every event exactly once.
    """
    ingestion = UsageIngestion(context.sessionmaker, context.settings.usage)
    return await ingestion.ingest(
        caller.client_id, batch.events, correlation_id=caller.correlation_id
    )
