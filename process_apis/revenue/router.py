"""`/v1/invoices/{id}/revenue-schedule`: how an invoice's lines are earned."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from core.auth import requires
from core.ids import id_pattern
from core.problems import problem_responses
from process_apis.deps import ContextDep
from process_apis.revenue import reports
from process_apis.revenue.schemas import InvoiceRevenueSchedule

InvoiceID = Annotated[
    str, Path(pattern=id_pattern("invoice"), examples=["inv_01jd0000000000000000000000"])
]

router = APIRouter(prefix="/v1", tags=["revenue"])


@router.get(
    "/invoices/{invoice_id}/revenue-schedule",
    response_model=InvoiceRevenueSchedule,
    operation_id="invoices-revenue-schedule",
    dependencies=[requires("invoices:read")],
    summary="Get the revenue schedule of an invoice",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def get_revenue_schedule(
    invoice_id: InvoiceID, context: ContextDep
) -> InvoiceRevenueSchedule:
    """Each posted line with a service period: its plan by month, what is recognized, its
    adjustments with their documents; none before the invoice is posted."""
    return await reports.invoice_schedule(context, invoice_id)
