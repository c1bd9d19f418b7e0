"""`/v1/subscriptions`: order, read, amend (preview and apply) and cancel subscriptions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from core.auth import requires
from core.canonical.subscriptions import Subscription, SubscriptionStatus
from core.ids import id_pattern
from core.pagination import Page
from core.problems import problem_responses
from process_apis.deps import CallerDep, ContextDep, SessionDep
from process_apis.idempotency import IdempotentWrite, Outcome
from process_apis.listing import CustomerFilter, ListQueryDep, PartnerFilter
from process_apis.runs.schemas import RunState
from process_apis.subscriptions import repository
from process_apis.subscriptions.schemas import (
    AmendmentCreate,
    AmendmentPreview,
    AmendmentResult,
    CancellationCreate,
    CancellationResult,
    SubscriptionCreate,
    SubscriptionResource,
    SubscriptionResult,
)
from process_apis.subscriptions.workflow.amendment import SubscriptionAmendmentWorkflow
from process_apis.subscriptions.workflow.cancellation import SubscriptionCancelWorkflow
from process_apis.subscriptions.workflow.order import SubscriptionOrderWorkflow

SubscriptionID = Annotated[
    str, Path(pattern=id_pattern("subscription"), examples=["sub_01jd0000000000000000000000"])
]

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"])

WRITE_PROBLEMS = problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 502, 503)


def _queued(model: type[SubscriptionResult]) -> dict[int | str, dict[str, object]]:
    return {
        202: {
            "description": "A backend is down: the run is queued for retry; follow `run.run_url`.",
            "model": model,
        }
    }


def _outcome(result: SubscriptionResult, done: int) -> Outcome:
    if result.run.state == RunState.PENDING_RETRY:
        return Outcome(202, result, {"Location": result.run.run_url})
    return Outcome(done, result, {"Location": f"/v1/subscriptions/{result.subscription.id}"})


@router.post(
    "",
    response_model=SubscriptionResult,
    status_code=201,
    operation_id="subscriptions-create",
    dependencies=[requires("subscriptions:write")],
    summary="Order a subscription",
    responses={**_queued(SubscriptionResult), **WRITE_PROBLEMS},
)
async def create_subscription(
    data: SubscriptionCreate,
    context: ContextDep,
    caller: CallerDep,
    idempotency: IdempotentWrite,
) -> Response:
    """Order a subscription: partner eligibility, billing, ERP customer, entitlements.

    Requires `Idempotency-Key`. `201` active, `202` a backend is down and the order is
    queued (the subscription is `pending`), `422 partner-not-eligible` with the CRM's
    `reason` when the partner may not be credited.
    """
    workflow = SubscriptionOrderWorkflow(context)

    async def handle() -> Outcome:
        result = await workflow.order(
            request=data, client_id=caller.client_id, correlation_id=caller.correlation_id
        )
        return _outcome(result, 201)

    return await idempotency(data, handle)


@router.get(
    "",
    response_model=Page[Subscription],
    operation_id="subscriptions-list",
    dependencies=[requires("subscriptions:read")],
    summary="List subscriptions",
    responses=problem_responses(400, 401, 403, 422),
)
async def list_subscriptions(
    session: SessionDep,
    listing: ListQueryDep,
    status: Annotated[
        SubscriptionStatus | None, Query(description="Only subscriptions in this status.")
    ] = None,
    customer_id: CustomerFilter = None,
    partner_id: PartnerFilter = None,
) -> Page[Subscription]:
    """Subscriptions, newest first; `date_from`/`date_to` filter on the day each was ordered."""
    return await repository.list_subscriptions(
        session, listing=listing, status=status, customer_id=customer_id, partner_id=partner_id
    )


@router.get(
    "/{subscription_id}",
    response_model=SubscriptionResource,
    operation_id="subscriptions-get",
    dependencies=[requires("subscriptions:read")],
    summary="Get a subscription",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_subscription(
    subscription_id: SubscriptionID, session: SessionDep
) -> SubscriptionResource:
    """A subscription, its product tier, its backend references and its latest run."""
    subscription = await repository.get_subscription(session, subscription_id)
    return await repository.resource(session, subscription)


@router.post(
    "/{subscription_id}/amendments/preview",
    response_model=AmendmentPreview,
    operation_id="subscriptions-preview-amendment",
    dependencies=[requires("subscriptions:read")],
    summary="Preview a subscription amendment",
    responses=WRITE_PROBLEMS,
)
async def preview_amendment(
    subscription_id: SubscriptionID, data: AmendmentCreate, context: ContextDep
) -> AmendmentPreview:
    """The proration billing would make for the change, and the ERP document that would follow."""
    return await SubscriptionAmendmentWorkflow(context).preview(subscription_id, data)


@router.post(
    "/{subscription_id}/amendments",
    response_model=AmendmentResult,
    status_code=201,
    operation_id="subscriptions-amend",
    dependencies=[requires("subscriptions:write")],
    summary="Amend a subscription mid-cycle",
    responses={**_queued(AmendmentResult), **WRITE_PROBLEMS},
)
async def amend_subscription(
    subscription_id: SubscriptionID,
    data: AmendmentCreate,
    context: ContextDep,
    caller: CallerDep,
    idempotency: IdempotentWrite,
) -> Response:
    """Change price and/or quantity now: billing prorates, the ERP posts the adjustment,
    the support desk gets the new tier.

    Requires `Idempotency-Key`. `201` amended, `202` queued (a backend is down), `409` when
    another change of the subscription is unfinished, `502 amendment-erp-totals-mismatch`
    when the ERP's adjustment would book other totals than billing charged (left unposted).
    """
    workflow = SubscriptionAmendmentWorkflow(context)

    async def handle() -> Outcome:
        result = await workflow.amend(
            subscription_id, data, client_id=caller.client_id, correlation_id=caller.correlation_id
        )
        return _outcome(result, 201)

    return await idempotency(data, handle)


@router.post(
    "/{subscription_id}/cancel",
    response_model=CancellationResult,
    operation_id="subscriptions-cancel",
    dependencies=[requires("subscriptions:write")],
    summary="Cancel a subscription",
    responses={**_queued(CancellationResult), **WRITE_PROBLEMS},
)
async def cancel_subscription(
    subscription_id: SubscriptionID,
    data: CancellationCreate,
    context: ContextDep,
    caller: CallerDep,
    idempotency: IdempotentWrite,
) -> Response:
    """Cancel now in billing and revoke the entitlements it granted.

    Requires `Idempotency-Key`. `200` cancelled (or was already), `202` queued.
    """
    workflow = SubscriptionCancelWorkflow(context)

    async def handle() -> Outcome:
        result = await workflow.cancel(
            subscription_id, data, client_id=caller.client_id, correlation_id=caller.correlation_id
        )
        return _outcome(result, 200)

    return await idempotency(data, handle)
