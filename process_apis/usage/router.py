"""`/v1/usage-events`: metered usage in batches, answered per event; and per subscription,
its usage ingested, reported and invoiced."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from core.auth import requires
from core.ids import id_pattern
from core.problems import problem_responses
from process_apis.deps import CallerDep, ContextDep, SessionDep
from process_apis.usage.schemas import SubscriptionUsage, UsageBatch, UsageBatchResult
from process_apis.usage.service import UsageIngestion
from process_apis.usage.statement import subscription_usage

router = APIRouter(tags=["usage"])

SubscriptionID = Annotated[
    str, Path(pattern=id_pattern("subscription"), examples=["sub_01jd0000000000000000000000"])
]


@router.post(
    "/v1/usage-events",
    response_model=UsageBatchResult,
    operation_id="usage-events-create",
    dependencies=[requires("usage:write")],
    summary="Send a batch of usage events",
    responses=problem_responses(400, 401, 403, 413, 415, 422, 503),
)
async def create_usage_events(
    batch: UsageBatch, context: ContextDep, caller: CallerDep
) -> Response:
    """Up to 1,000 usage events, each answered in its place: `accepted` (with the billing
    period it counts in, `late` when that period's grace window had passed, `flagged`
    when over the meter's cap), `duplicate` (the client sent this id with this body
    before: nothing changes), or `rejected` with a problem whose `errors` point into the
    batch (`#/events/3/quantity`). The answer is `200` whatever the outcomes.

    Each event's `id` is its idempotency key, per client: no `Idempotency-Key` header is
    needed, and a batch sent again (or concurrently) stores every event exactly once.
    """
    ingestion = UsageIngestion(context.sessionmaker, context.settings.usage)
    answer = await ingestion.ingest(
        caller.client_id, batch.events, correlation_id=caller.correlation_id
    )
    # Serialized once: through `response_model`, the thousand answers of a batch would be
    # dumped, validated again and serialized again (4 µs an event).
    return Response(answer.model_dump_json(), media_type="application/json")


@router.get(
    "/v1/subscriptions/{subscription_id}/usage",
    response_model=SubscriptionUsage,
    operation_id="subscriptions-get-usage",
    dependencies=[requires("usage:read")],
    summary="Get a subscription's usage: ingested, reported, invoiced",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_subscription_usage(
    subscription_id: SubscriptionID, session: SessionDep
) -> SubscriptionUsage:
    """Per subscription item (metered price) and billing period, oldest first: the usage
    ingested, what the period's report counted and carried in from periods already
    invoiced (with the periods and event counts), what billing holds, and what its
    invoice charged."""
    return await subscription_usage(session, subscription_id)
