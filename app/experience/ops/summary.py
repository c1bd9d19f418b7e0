"""`GET /ops/v1/summary`: the process tier's business figures for a month."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from core.auth import requires
from core.problems import problem_responses
from process_apis.deps import SessionDep
from process_apis.reconciliation.schemas import PERIOD_PATTERN
from process_apis.summary import Summary, summarize

router = APIRouter(prefix="/ops/v1", tags=["ops"])


@router.get(
    "/summary",
    response_model=Summary,
    operation_id="ops-summary",
    summary="Business summary of a month",
    dependencies=[requires("ops:read")],
    responses=problem_responses(400, 401, 403, 422),
)
async def get_summary(
    session: SessionDep,
    period: Annotated[str, Query(pattern=PERIOD_PATTERN, examples=["2026-11"])],
) -> Summary:
    """Runs, success and straight-through ratios per workflow, posting latency, queue depth."""
    return await summarize(session, period=period)
