"""`GET /ops/v1/reconciliation`: the gateway against the ERP for a period and legal entity."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from core.auth import requires
from core.ids import id_pattern
from core.problems import problem_responses
from process_apis.deps import ContextDep, SessionDep
from process_apis.reconciliation import PERIOD_PATTERN, Reconciliation, reconcile

router = APIRouter(prefix="/ops/v1", tags=["ops"])


@router.get(
    "/reconciliation",
    response_model=Reconciliation,
    operation_id="ops-reconciliation",
    summary="Reconcile a period with the ERP",
    dependencies=[requires("ops:read")],
    responses=problem_responses(400, 401, 403, 404, 422, 502, 503),
)
async def get_reconciliation(
    context: ContextDep,
    session: SessionDep,
    period: Annotated[str, Query(pattern=PERIOD_PATTERN, examples=["2026-11"])],
    legal_entity: Annotated[str, Query(pattern=id_pattern("legal_entity"))],
) -> Reconciliation:
    """Counts and control totals per currency, documents missing on either side, mismatches."""
    return await reconcile(context, session, legal_entity_id=legal_entity, period=period)
