"""`/ops/v1/reconciliation`: billing, the gateway and the ERP compared for a month (and
the catalog's drift), and the reports of past runs (on demand, from the CLI and from
the worker's schedule)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from core.auth import requires
from core.ids import id_pattern
from core.problems import problem_responses
from process_apis.deps import ContextDep, SessionDep
from process_apis.reconciliation import reports, service
from process_apis.reconciliation.schemas import (
    PERIOD_PATTERN,
    Period,
    Reconciliation,
    ReconciliationRun,
)

router = APIRouter(prefix="/ops/v1", tags=["ops"])

LegalEntityID = Annotated[str, Query(pattern=id_pattern("legal_entity"))]
ReconciliationID = Annotated[str, Path(pattern=id_pattern("reconciliation"))]


@router.get(
    "/reconciliation",
    response_model=Reconciliation,
    operation_id="ops-reconciliation",
    summary="Reconcile a period: billing, the gateway and the ERP",
    dependencies=[requires("ops:read")],
    responses=problem_responses(400, 401, 403, 404, 422, 502, 503),
)
async def get_reconciliation(
    context: ContextDep,
    period: Annotated[str, Query(pattern=PERIOD_PATTERN, examples=["2026-11"])],
    legal_entity: LegalEntityID,
) -> Reconciliation:
    """Runs now and keeps the report: control totals, each difference with its cause, and
    the legal entity's products and prices that drifted from their ERP items and billing
    prices."""
    return await service.reconcile(context, legal_entity_id=legal_entity, period=period)


@router.get(
    "/reconciliation/runs",
    response_model=list[ReconciliationRun],
    operation_id="ops-reconciliation-runs",
    summary="Past reconciliation runs",
    dependencies=[requires("ops:read")],
    responses=problem_responses(401, 403, 422),
)
async def list_reconciliation_runs(
    session: SessionDep,
    legal_entity: Annotated[str | None, Query(pattern=id_pattern("legal_entity"))] = None,
    period: Annotated[Period | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ReconciliationRun]:
    """The latest runs, newest first, whoever started them."""
    return await service.list_runs(
        session, legal_entity_id=legal_entity, period=period, limit=limit
    )


@router.get(
    "/reconciliation/runs/{run_id}",
    response_model=Reconciliation,
    operation_id="ops-reconciliation-run",
    summary="One run's report",
    dependencies=[requires("ops:read")],
    responses=problem_responses(401, 403, 404, 422),
)
async def get_reconciliation_run(
    context: ContextDep,
    run_id: ReconciliationID,
    limit: Annotated[int, Query(ge=0, le=100_000)] = 1000,
) -> Reconciliation:
    """A kept report with its first `limit` differences."""
    return await reports.report(context.sessionmaker, run_id, limit=limit)
