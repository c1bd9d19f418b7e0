"""Payments received against posted invoices: recorded, applied in the ERP, rated."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from core.auth import requires
from core.ids import id_pattern
from core.models.payment import PaymentStatus
from core.pagination import Page
from core.problems import problem_responses
from process_apis.deps import CallerDep, ContextDep, SessionDep
from process_apis.idempotency import IdempotentWrite, Outcome, undo_outcome
from process_apis.listing import CustomerFilter, InvoiceFilter, ListQueryDep
from process_apis.payments import repository
from process_apis.payments.reversal import PaymentReversalWorkflow
from process_apis.payments.schemas import (
    PaymentCreate,
    PaymentResource,
    PaymentReversalCreate,
    PaymentSummary,
)
from process_apis.payments.workflow import PaymentWorkflow

InvoiceID = Annotated[
    str, Path(pattern=id_pattern("invoice"), examples=["inv_01jd0000000000000000000000"])
]
PaymentID = Annotated[
    str, Path(pattern=id_pattern("payment"), examples=["pay_01jd0000000000000000000000"])
]

router = APIRouter(tags=["payments"])


@router.post(
    "/v1/invoices/{invoice_id}/payments",
    response_model=PaymentResource,
    status_code=201,
    operation_id="invoices-payments-create",
    dependencies=[requires("payments:write")],
    summary="Record a payment against a posted invoice",
    responses={
        202: {
            "description": "A backend is down: the run is queued for retry; follow `run_url`.",
            "model": PaymentResource,
        },
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 502, 503),
    },
)
async def create_payment(
    invoice_id: InvoiceID,
    data: PaymentCreate,
    context: ContextDep,
    caller: CallerDep,
    idempotency: IdempotentWrite,
) -> Response:
    """Apply a payment to the posted invoice in the ERP and rate the partner's commission.

    Requires `Idempotency-Key`. `201` applied, `202` the ERP or CRM is unreachable and
    the run is queued. The invoice becomes `paid` once the ERP says it owes nothing.
    """
    workflow = PaymentWorkflow(context)

    async def handle() -> Outcome:
        payment = await workflow.record(
            invoice_id, data, client_id=caller.client_id, correlation_id=caller.correlation_id
        )
        if payment.status == PaymentStatus.RECORDED:
            return Outcome(202, payment, {"Location": payment.run_url or ""})
        return Outcome(201, payment, {"Location": f"/v1/payments/{payment.id}"})

    return await idempotency(data, handle)


@router.get(
    "/v1/payments",
    response_model=Page[PaymentSummary],
    operation_id="payments-list",
    dependencies=[requires("invoices:read")],
    summary="List payments",
    responses=problem_responses(400, 401, 403, 422),
)
async def list_payments(
    session: SessionDep,
    listing: ListQueryDep,
    status: Annotated[
        PaymentStatus | None, Query(description="Only payments in this status.")
    ] = None,
    customer_id: CustomerFilter = None,
    invoice_id: InvoiceFilter = None,
) -> Page[PaymentSummary]:
    """Payments, newest first; `date_from`/`date_to` filter on the day each was received."""
    return await repository.list_payments(
        session, listing=listing, status=status, customer_id=customer_id, invoice_id=invoice_id
    )


@router.get(
    "/v1/payments/{payment_id}",
    response_model=PaymentResource,
    operation_id="payments-get",
    dependencies=[requires("invoices:read")],
    summary="Get a payment",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_payment(payment_id: PaymentID, context: ContextDep) -> PaymentResource:
    """A payment, its application in the ERP and the commission lines it earned."""
    return await PaymentWorkflow(context).read(payment_id)


@router.post(
    "/v1/payments/{payment_id}/reversal",
    response_model=PaymentResource,
    status_code=201,
    operation_id="payments-reversal-create",
    dependencies=[requires("payments:reverse")],
    summary="Reverse an applied payment (a bounced cheque, a payment on the wrong invoice)",
    responses={
        200: {"description": "Reversed already: the payment.", "model": PaymentResource},
        202: {
            "description": "The ERP is down: the reversal run is queued for retry.",
            "model": PaymentResource,
        },
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 502, 503),
    },
)
async def reverse_payment(
    payment_id: PaymentID,
    data: PaymentReversalCreate,
    context: ContextDep,
    caller: CallerDep,
    idempotency: IdempotentWrite,
) -> Response:
    """Post a reversing entry in the ERP and claw back the commissions the payment earned.

    Requires `Idempotency-Key`. `201` reversed now, `200` reversed already, `202` queued,
    `409 payment-not-applied` for a payment not applied in the ERP, `422 closed-period`
    when today falls in a closed period of a legal entity that refuses those. The
    original entry stays in the ERP; the invoice owes the amount again; each commission
    line gets a negative claw-back line that the next settlement statement settles.
    """
    workflow = PaymentReversalWorkflow(context)

    async def reverse() -> PaymentResource:
        return await workflow.reverse(
            payment_id,
            reason=data.reason,
            client_id=caller.client_id,
            correlation_id=caller.correlation_id,
        )

    return await idempotency(
        data,
        lambda: undo_outcome(
            lambda: workflow.read(payment_id), reverse, undone=PaymentStatus.REVERSED
        ),
    )
