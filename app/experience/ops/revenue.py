"""`/ops/v1/revenue`: recognition runs (on demand, and their reversal), the waterfall, and
the proof that billed = recognized + deferred, with its drill-down to each schedule."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from core.auth import requires
from core.ids import id_pattern
from core.models.revenue import RecognitionRunStatus
from core.pagination import DEFAULT_PAGE_SIZE, Cursor, PageSize
from core.problems import problem_responses
from process_apis.deps import CallerDep, ContextDep, TransactionDep
from process_apis.idempotency import IdempotentWrite, Outcome, period_outcome, undo_outcome
from process_apis.revenue import reports, rules
from process_apis.revenue.reversal import RecognitionReversalWorkflow
from process_apis.revenue.schemas import (
    RecognitionReversalCreate,
    RecognitionRun,
    RecognitionRunCreate,
    RecognitionRunResult,
    RevenueProof,
    RevenueRule,
    RevenueRuleSet,
    ScheduleBalances,
    Waterfall,
)
from process_apis.revenue.workflow import RecognitionWorkflow

router = APIRouter(prefix="/ops/v1/revenue", tags=["ops"])

MONTH = r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$"
LegalEntityID = Annotated[
    str, Query(pattern=id_pattern("legal_entity"), description="The legal entity (`le_...`).")
]
Month = Annotated[
    str, Query(pattern=MONTH, examples=["2026-11"], description="The month, `YYYY-MM`.")
]
ProductID = Annotated[
    str, Path(pattern=id_pattern("product"), examples=["prod_01jd0000000000000000000000"])
]
RecognitionID = Annotated[
    str, Path(pattern=id_pattern("recognition_run"), examples=["rvr_01jd0000000000000000000000"])
]


@router.post(
    "/recognition-runs",
    response_model=RecognitionRunResult,
    status_code=201,
    operation_id="ops-revenue-recognition-runs-create",
    dependencies=[requires("ops:write")],
    summary="Recognize a legal entity's revenue for a month",
    responses={
        200: {
            "description": "Recognized already: the month's runs.",
            "model": RecognitionRunResult,
        },
        202: {
            "description": "The ERP is down: a journal's posting run is queued for retry.",
            "model": RecognitionRunResult,
        },
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
    },
)
async def run_recognition(
    data: RecognitionRunCreate,
    context: ContextDep,
    caller: CallerDep,
    idempotency: IdempotentWrite,
) -> Response:
    """Draw up the month's recognition (one run per currency) and journal it in the ERP.

    Requires `Idempotency-Key`. A month is recognized once it has ended
    (`422 revenue-period-open` before). Idempotent per legal entity and month: running it
    again draws up nothing new and resumes postings that did not finish; after a reversal
    it draws up the month again. `201` drawn up, `200` none new, `202` a posting is queued;
    a run whose posting failed for a business reason (`closed-period` under the `reject`
    policy) shows its failed `last_run`.
    """
    workflow = RecognitionWorkflow(context)

    async def handle() -> Outcome:
        result = await workflow.run_period(
            data.period,
            legal_entity_id=data.legal_entity_id,
            client_id=caller.client_id,
            correlation_id=caller.correlation_id,
        )
        return period_outcome(
            result, drawn_up=result.drawn_up, runs=(run.last_run for run in result.runs)
        )

    return await idempotency(data, handle)


@router.get(
    "/recognition-runs/{recognition_id}",
    response_model=RecognitionRun,
    operation_id="ops-revenue-recognition-runs-get",
    dependencies=[requires("ops:read")],
    summary="Get a recognition run",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_recognition(recognition_id: RecognitionID, context: ContextDep) -> RecognitionRun:
    """A month's recognition in one currency: its totals per account, ERP journal and run."""
    return await RecognitionWorkflow(context).read(recognition_id)


@router.post(
    "/recognition-runs/{recognition_id}/reversals",
    response_model=RecognitionRun,
    status_code=201,
    operation_id="ops-revenue-recognition-runs-reverse",
    dependencies=[requires("ops:write")],
    summary="Reverse a posted recognition run",
    responses={
        200: {"description": "Reversed already.", "model": RecognitionRun},
        202: {"description": "The ERP is down: the reversal is queued.", "model": RecognitionRun},
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
    },
)
async def reverse_recognition(
    recognition_id: RecognitionID,
    data: RecognitionReversalCreate,
    context: ContextDep,
    caller: CallerDep,
    idempotency: IdempotentWrite,
) -> Response:
    """Post a reversing journal entry in the ERP; the month can then be recognized again.

    Requires `Idempotency-Key`. `201` reversed now, `200` reversed already, `202` queued,
    `409 recognition-run-not-posted` for a run never posted.
    """
    workflow = RecognitionReversalWorkflow(context)

    async def reverse() -> RecognitionRun:
        return await workflow.reverse(
            recognition_id,
            reason=data.reason,
            client_id=caller.client_id,
            correlation_id=caller.correlation_id,
        )

    return await idempotency(
        data,
        lambda: undo_outcome(
            lambda: workflow.read(recognition_id), reverse, undone=RecognitionRunStatus.REVERSED
        ),
    )


@router.get(
    "/waterfall",
    response_model=Waterfall,
    operation_id="ops-revenue-waterfall",
    dependencies=[requires("ops:read")],
    summary="The revenue waterfall of a legal entity",
    responses={
        200: {
            "description": "The waterfall, as JSON or (`format=csv`) CSV.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **problem_responses(400, 401, 403, 404, 409, 422),
    },
)
async def get_waterfall(
    context: ContextDep,
    legal_entity: LegalEntityID,
    from_month: Annotated[
        str,
        Query(alias="from", pattern=MONTH, examples=["2026-01"], description="First month shown."),
    ],
    to_month: Annotated[
        str,
        Query(alias="to", pattern=MONTH, examples=["2026-12"], description="Last month shown."),
    ],
    response_format: Annotated[
        Literal["json", "csv"],
        Query(alias="format", description="`json` (the default) or `csv`."),
    ] = "json",
) -> Response | Waterfall:
    """Per currency and month: billed into deferred revenue, recognized, and the deferred
    revenue at the month's end."""
    report = await reports.waterfall(
        context, legal_entity_id=legal_entity, from_month=from_month, to_month=to_month
    )
    if response_format == "csv":
        return Response(reports.waterfall_csv(report), media_type="text/csv")
    return report


@router.get(
    "/proof",
    response_model=RevenueProof,
    operation_id="ops-revenue-proof",
    dependencies=[requires("ops:read")],
    summary="Billed = recognized + deferred, against the ERP",
    responses=problem_responses(400, 401, 403, 404, 409, 422, 502, 503),
)
async def get_proof(
    context: ContextDep, legal_entity: LegalEntityID, period: Month
) -> RevenueProof:
    """Per currency at the month's end: billed, recognized and deferred by the schedules,
    and the deferred revenue the posted journals left against the ERP's balance."""
    return await reports.proof(context, legal_entity_id=legal_entity, period=period)


@router.get(
    "/schedules",
    response_model=ScheduleBalances,
    operation_id="ops-revenue-schedules",
    dependencies=[requires("ops:read")],
    summary="Each revenue schedule's figures at a month's end",
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def list_schedule_balances(
    context: ContextDep,
    legal_entity: LegalEntityID,
    period: Month,
    cursor: Cursor = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> ScheduleBalances:
    """The proof's drill-down: billed, recognized and deferred of each schedule."""
    return await reports.schedule_balances(
        context, legal_entity_id=legal_entity, period=period, cursor=cursor, limit=limit
    )


@router.put(
    "/rules/{product_id}",
    response_model=RevenueRule,
    operation_id="ops-revenue-rules-set",
    dependencies=[requires("refdata:write")],
    summary="Set how a product's revenue is recognized",
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422),
)
async def set_rule(
    product_id: ProductID, data: RevenueRuleSet, transaction: TransactionDep
) -> RevenueRule:
    """Ratably over the service period, or at a point in time; schedules drawn up before
    keep their method."""
    async with transaction() as session:
        return await rules.set_rule(session, product_id, data.method)
