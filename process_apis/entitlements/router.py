"""`/v1/customers/{id}/entitlements`: read the canonical entitlements, re-sync the desk."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from core.auth import requires
from core.canonical.subscriptions import Entitlement, EntitlementStatus
from core.ids import id_pattern
from core.problems import problem_responses
from process_apis.deps import CallerDep, ContextDep, SessionDep
from process_apis.entitlements import service
from process_apis.entitlements.schemas import EntitlementList, EntitlementResync
from process_apis.entitlements.workflow import EntitlementResyncWorkflow
from process_apis.lookups import get_customer
from process_apis.runs.schemas import RunState

CustomerID = Annotated[str, Path(pattern=id_pattern("customer"))]

router = APIRouter(prefix="/v1/customers", tags=["entitlements"])


@router.get(
    "/{customer_id}/entitlements",
    response_model=EntitlementList,
    operation_id="customers-entitlements-list",
    dependencies=[requires("entitlements:read")],
    summary="List a customer's entitlements",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_entitlements(
    customer_id: CustomerID,
    session: SessionDep,
    status: Annotated[EntitlementStatus | None, Query(description="Only these.")] = None,
) -> EntitlementList:
    """The customer's entitlements, one per feature its subscriptions grant, oldest first."""
    await get_customer(session, customer_id)
    rows = await service.customer_entitlements(session, customer_id, status=status)
    return EntitlementList(
        customer_id=customer_id, entitlements=[Entitlement.model_validate(row) for row in rows]
    )


@router.post(
    "/{customer_id}/entitlements/resync",
    response_model=EntitlementResync,
    operation_id="customers-entitlements-resync",
    dependencies=[requires("entitlements:write")],
    summary="Re-sync a customer's entitlements to the support desk",
    responses={
        202: {
            "description": "The support desk is down: the re-sync is queued; follow `run.run_url`.",
            "model": EntitlementResync,
        },
        **problem_responses(401, 403, 404, 409, 413, 415, 422, 502),
    },
)
async def resync_entitlements(
    customer_id: CustomerID,
    context: ContextDep,
    caller: CallerDep,
    response: Response,
) -> EntitlementResync:
    """Re-derive the entitlements from the subscriptions and bring the desk in line; idempotent."""
    result = await EntitlementResyncWorkflow(context).resync(
        customer_id, client_id=caller.client_id, correlation_id=caller.correlation_id
    )
    if result.run.state == RunState.PENDING_RETRY:
        response.status_code = 202
        response.headers["Location"] = result.run.run_url
    return result
