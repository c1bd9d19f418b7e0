"""`/v1/orders`: a quote accepted in the CRM becomes an ERP sales order; read it back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from core.auth import requires
from core.ids import id_pattern
from core.problems import problem_responses
from process_apis.deps import CallerDep, ContextDep, SessionDep
from process_apis.idempotency import IdempotentWrite, Outcome
from process_apis.orders import repository
from process_apis.orders.schemas import SalesOrder, SalesOrderCreate, SalesOrderResult
from process_apis.orders.workflow import SalesOrderWorkflow
from process_apis.runs.schemas import RunState

SalesOrderID = Annotated[
    str, Path(pattern=id_pattern("sales_order"), examples=["so_01jd0000000000000000000000"])
]

router = APIRouter(prefix="/v1/orders", tags=["orders"])


@router.post(
    "",
    response_model=SalesOrderResult,
    status_code=201,
    operation_id="orders-create",
    dependencies=[requires("orders:write")],
    summary="Place the sales order of an accepted quote",
    responses={
        200: {
            "description": "The quote's order exists: the same order.",
            "model": SalesOrderResult,
        },
        202: {
            "description": "The ERP is down: the run is queued for retry; follow `run.run_url`.",
            "model": SalesOrderResult,
        },
        **problem_responses(400, 401, 403, 409, 413, 415, 422, 502, 503),
    },
)
async def create_order(
    data: SalesOrderCreate, context: ContextDep, caller: CallerDep, idempotency: IdempotentWrite
) -> Response:
    """Check the customer's credit in the ERP, map the products, create the ERP sales order.

    Requires `Idempotency-Key`. `201` the ERP holds the order, `200` the quote's order
    exists, `202` queued (the ERP is down), `422 customer-credit-refused` or
    `customer-credit-held` (by `LEDGERGATE_ORDER_CREDIT_POLICY`), `product-not-mapped`,
    `502 erp-order-amount-mismatch`.
    """
    workflow = SalesOrderWorkflow(context)

    async def handle() -> Outcome:
        result, created = await workflow.accept(
            request=data, client_id=caller.client_id, correlation_id=caller.correlation_id
        )
        if result.run.state == RunState.PENDING_RETRY:
            return Outcome(202, result, {"Location": result.run.run_url})
        return Outcome(
            201 if created else 200, result, {"Location": f"/v1/orders/{result.order.id}"}
        )

    return await idempotency(data, handle)


@router.get(
    "/{order_id}",
    response_model=SalesOrder,
    operation_id="orders-get",
    dependencies=[requires("orders:read")],
    summary="Get a sales order",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_order(order_id: SalesOrderID, session: SessionDep) -> SalesOrder:
    """The order, its lines (with their subscriptions once in service), the ERP's order and
    its latest run."""
    return await repository.resource(session, await repository.get_order(session, order_id))
