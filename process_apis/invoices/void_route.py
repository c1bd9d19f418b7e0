"""`POST /v{n}/invoices/{invoice_id}/void`: one operation, the same in every version."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from core.auth import requires
from core.problems import problem_responses
from process_apis.deps import CallerDep, ContextDep
from process_apis.idempotency import IdempotentWrite, Outcome
from process_apis.invoices import service
from process_apis.invoices.params import InvoiceID
from process_apis.invoices.schemas import VoidCreate, VoidResult
from process_apis.runs.schemas import RunState

VOID_DESCRIPTION = (
    "Void an invoice before it reaches the ERP; a posted invoice is corrected by a credit memo."
    "\n\nRequires `Idempotency-Key`. `200` void, `202` billing is unreachable (the run is "
    "queued),\n`409 invoice-not-voidable` once a posting has started."
)
VOID_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "Billing is unreachable: the invoice is void here and the run is queued "
        "to void billing's invoice; follow `run.run_url`.",
        "model": VoidResult,
    },
    **problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 502, 503),
}


def void_outcome(result: VoidResult) -> Outcome:
    """`200` void (now or before), `202` billing still to be told (pointing at the run)."""
    if result.run.state == RunState.PENDING_RETRY:
        return Outcome(202, result, {"Location": result.run.run_url})
    return Outcome(200, result)


def add_void_route(router: APIRouter, *, operation_id: str, successor: str | None = None) -> None:
    """The void operation on `router`; with a `successor`, deprecated in its favour."""
    deprecation: dict[str, Any] = (
        {"deprecated": True, "openapi_extra": {"x-successor-version": successor}}
        if successor
        else {}
    )

    @router.post(
        "/{invoice_id}/void",
        response_model=VoidResult,
        operation_id=operation_id,
        dependencies=[requires("invoices:write")],
        summary="Void an invoice that was never posted",
        description=VOID_DESCRIPTION,
        responses=VOID_RESPONSES,
        **deprecation,
    )
    async def void_invoice(
        invoice_id: InvoiceID,
        data: VoidCreate,
        context: ContextDep,
        caller: CallerDep,
        idempotency: IdempotentWrite,
    ) -> Response:
        async def handle() -> Outcome:
            result = await service.void_invoice(
                context, invoice_id=invoice_id, request=data, caller=caller
            )
            return void_outcome(result)

        return await idempotency(data, handle)
