"""`/v1/settlements`: partner settlement runs, statements and their lineage."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from core.auth import requires
from core.canonical.documents import Settlement, SettlementStatus
from core.ids import id_pattern
from core.pagination import DEFAULT_PAGE_SIZE, Cursor, Page, PageSize
from core.problems import problem_responses
from process_apis.deps import CallerDep, ContextDep, SessionDep
from process_apis.idempotency import IdempotentWrite, Outcome, period_outcome, undo_outcome
from process_apis.listing import ListQueryDep, PartnerFilter
from process_apis.settlements import service
from process_apis.settlements.reversal import SettlementReversalWorkflow
from process_apis.settlements.schemas import (
    LineageEntry,
    SettlementResource,
    SettlementReversalCreate,
    SettlementRunCreate,
    SettlementRunResult,
)
from process_apis.settlements.workflow import SettlementPostingWorkflow

SettlementID = Annotated[
    str, Path(pattern=id_pattern("settlement"), examples=["stl_01jd0000000000000000000000"])
]

router = APIRouter(prefix="/v1", tags=["settlements"])


@router.post(
    "/settlement-runs",
    response_model=SettlementRunResult,
    status_code=201,
    operation_id="settlement-runs-create",
    dependencies=[requires("settlements:write")],
    summary="Run the partner settlement of a period",
    responses={
        200: {
            "description": "Nothing new to draw up: the period's statements.",
            "model": SettlementRunResult,
        },
        202: {
            "description": "The ERP is down: a statement's posting run is queued for retry.",
            "model": SettlementRunResult,
        },
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
    },
)
async def run_settlements(
    data: SettlementRunCreate,
    context: ContextDep,
    caller: CallerDep,
    idempotency: IdempotentWrite,
) -> Response:
    """Draw up one statement per partner, legal entity and currency, and journal each in the ERP.

    Requires `Idempotency-Key`. A month is settled once it has ended
    (`422 settlement-period-open` before), and for a legal entity that settles closed
    months only once its accounting period is closed (`422 settlement-accounting-period-open`
    when asked for that entity alone; otherwise listed in `awaiting_period_close`).
    Commissions paid in a month already settled are a prior-period adjustment of the next
    statement. Idempotent per legal entity and month: running a month again
    draws up nothing new and resumes the postings that did not finish. `201` statements
    drawn up, `200` none new, `202` a posting is queued; a statement whose posting failed
    for a business reason shows its failed `last_run`.
    """
    workflow = SettlementPostingWorkflow(context)

    async def handle() -> Outcome:
        result = await workflow.run_period(
            data.period,
            legal_entity_id=data.legal_entity_id,
            client_id=caller.client_id,
            correlation_id=caller.correlation_id,
        )
        return period_outcome(
            result, drawn_up=result.drawn_up, runs=(s.last_run for s in result.settlements)
        )

    return await idempotency(data, handle)


@router.get(
    "/settlements",
    response_model=Page[Settlement],
    operation_id="settlements-list",
    dependencies=[requires("settlements:read")],
    summary="List partner settlements",
    responses=problem_responses(400, 401, 403, 422),
)
async def list_settlements(
    session: SessionDep,
    listing: ListQueryDep,
    status: Annotated[
        SettlementStatus | None, Query(description="Only statements in this status.")
    ] = None,
    partner_id: PartnerFilter = None,
) -> Page[Settlement]:
    """Partner statements, newest first; `date_from`/`date_to` filter on the period's start."""
    return await service.list_settlements(
        session, listing=listing, status=status, partner_id=partner_id
    )


@router.get(
    "/settlements/{settlement_id}",
    response_model=SettlementResource,
    operation_id="settlements-get",
    dependencies=[requires("settlements:read")],
    summary="Get a settlement statement",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_settlement(settlement_id: SettlementID, context: ContextDep) -> SettlementResource:
    """A statement: its partner, period, total, ERP journal entry and latest posting run."""
    return await SettlementPostingWorkflow(context).read(settlement_id)


@router.get(
    "/settlements/{settlement_id}/lineage",
    response_model=Page[LineageEntry],
    operation_id="settlements-lineage",
    dependencies=[requires("settlements:read")],
    summary="Get the lineage of a settlement statement",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def get_lineage(
    settlement_id: SettlementID,
    session: SessionDep,
    cursor: Cursor = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> Page[LineageEntry]:
    """Each commission of the statement: payment → invoice line → attribution → rate card."""
    entries, next_cursor = await service.lineage(session, settlement_id, cursor=cursor, limit=limit)
    return Page[LineageEntry](items=entries, next_cursor=next_cursor)


@router.post(
    "/settlements/{settlement_id}/reversals",
    response_model=SettlementResource,
    status_code=201,
    operation_id="settlements-reversals-create",
    dependencies=[requires("settlements:write")],
    summary="Reverse a posted settlement statement",
    responses={
        200: {"description": "Reversed already: the statement.", "model": SettlementResource},
        202: {
            "description": "The ERP is down: the reversal run is queued for retry.",
            "model": SettlementResource,
        },
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
    },
)
async def reverse_settlement(
    settlement_id: SettlementID,
    data: SettlementReversalCreate,
    context: ContextDep,
    caller: CallerDep,
    idempotency: IdempotentWrite,
) -> Response:
    """Post a reversing journal entry in the ERP; the statement's commissions are unsettled again.

    Requires `Idempotency-Key`. `201` reversed now, `200` reversed already, `202` queued,
    `409 settlement-not-posted` for a statement never posted. The commission lines go to
    the next settlement run as a prior-period adjustment.
    """
    workflow = SettlementReversalWorkflow(context)

    async def reverse() -> SettlementResource:
        return await workflow.reverse(
            settlement_id,
            reason=data.reason,
            client_id=caller.client_id,
            correlation_id=caller.correlation_id,
        )

    return await idempotency(
        data,
        lambda: undo_outcome(
            lambda: workflow.read(settlement_id), reverse, undone=SettlementStatus.REVERSED
        ),
    )
