"""`/ops/v1/runs` and `/ops/v1/exceptions`: workflow runs, and the queue of those that need help."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import Principal, requires
from core.canonical.base import InputModel
from core.errors import ErrorClass
from core.ids import id_pattern
from core.models.base import utcnow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from core.pagination import DEFAULT_PAGE_SIZE, Cursor, Page, PageSize, keyset_page
from core.problems import problem_responses
from process_apis.deps import ContextDep, ProcessContext, SessionDep
from process_apis.runs.queue import queue_condition
from process_apis.runs.repository import get_run
from process_apis.runs.schemas import Run, RunSummary
from process_apis.workflows import replayer

router = APIRouter(prefix="/ops/v1", tags=["ops"])

RunID = Annotated[str, Path(pattern=id_pattern("workflow_run"))]
Workflow = Annotated[str | None, Query(max_length=60, examples=["invoice_posting"])]
READ_ERRORS = problem_responses(400, 401, 403, 422)
WRITE_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 415, 422)


class QueuedRun(RunSummary):
    age_seconds: int = Field(description="Seconds since the run started.")


class Closing(InputModel):
    note: str = Field(min_length=1, max_length=1000, description="Why, for the audit trail.")


@router.get(
    "/runs",
    response_model=Page[RunSummary],
    operation_id="ops-runs-list",
    summary="List workflow runs",
    dependencies=[requires("ops:read")],
    responses=READ_ERRORS,
)
async def list_runs(
    session: SessionDep,
    status: Annotated[RunStatus | None, Query()] = None,
    workflow: Workflow = None,
    cursor: Cursor = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> Page[RunSummary]:
    """Workflow runs by status and workflow, newest first."""
    query = select(WorkflowRunRow)
    if status is not None:
        query = query.where(WorkflowRunRow.status == status)
    if workflow is not None:
        query = query.where(WorkflowRunRow.workflow == workflow)
    rows, next_cursor = await keyset_page(
        session, query, WorkflowRunRow.id, cursor=cursor, limit=limit
    )
    return Page[RunSummary](
        items=[RunSummary.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get(
    "/exceptions",
    response_model=Page[QueuedRun],
    operation_id="ops-exceptions-list",
    summary="List the exception queue",
    dependencies=[requires("ops:read")],
    responses=READ_ERRORS,
)
async def list_exceptions(
    session: SessionDep,
    workflow: Workflow = None,
    error_class: Annotated[ErrorClass | None, Query()] = None,
    legal_entity: Annotated[
        str | None,
        Query(
            pattern=id_pattern("legal_entity"),
            description="Only runs about a document or customer of this legal entity.",
        ),
    ] = None,
    cursor: Cursor = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> Page[QueuedRun]:
    """Runs waiting for a retry (`pending_retry`) or for a person (`failed`), with their age."""
    now: datetime = utcnow()
    query = select(WorkflowRunRow).where(queue_condition(now))
    if workflow is not None:
        query = query.where(WorkflowRunRow.workflow == workflow)
    if error_class is not None:
        query = query.where(WorkflowRunRow.error_class == error_class)
    if legal_entity is not None:
        query = query.where(WorkflowRunRow.legal_entity_id == legal_entity)
    rows, next_cursor = await keyset_page(
        session, query, WorkflowRunRow.id, cursor=cursor, limit=limit
    )
    items = [
        QueuedRun.model_validate(
            {
                **RunSummary.model_validate(r).model_dump(),
                "age_seconds": int((now - r.created_at).total_seconds()),
            }
        )
        for r in rows
    ]
    return Page[QueuedRun](items=items, next_cursor=next_cursor)


@router.post(
    "/exceptions/{run_id}/replay",
    response_model=Run,
    operation_id="ops-exceptions-replay",
    summary="Replay a queued run now",
    dependencies=[requires("ops:write")],
    responses=WRITE_ERRORS,
)
async def replay(run_id: RunID, context: ContextDep, session: SessionDep) -> Run:
    """Run it again now; its steps find what earlier attempts already did downstream."""
    await replayer(context).replay(run_id)
    return Run.model_validate(await get_run(session, run_id))


async def _closed(
    context: ProcessContext,
    session: AsyncSession,
    run_id: str,
    status: RunStatus,
    data: Closing,
    operator: Principal,
) -> Run:
    """Close the queued run as `status` with the operator's note; the run as it is now."""
    await replayer(context).close(
        run_id, status=status, note=data.note, operator=operator.client_id
    )
    return Run.model_validate(await get_run(session, run_id))


@router.post(
    "/exceptions/{run_id}/resolve",
    response_model=Run,
    operation_id="ops-exceptions-resolve",
    summary="Mark a queued run resolved",
    responses=WRITE_ERRORS,
)
async def resolve(
    run_id: RunID,
    data: Closing,
    context: ContextDep,
    session: SessionDep,
    operator: Annotated[Principal, requires("ops:write")],
) -> Run:
    """Close a run that was fixed outside the gateway; nothing is compensated."""
    return await _closed(context, session, run_id, RunStatus.RESOLVED, data, operator)


@router.post(
    "/exceptions/{run_id}/discard",
    response_model=Run,
    operation_id="ops-exceptions-discard",
    summary="Discard a queued run",
    responses=WRITE_ERRORS,
)
async def discard(
    run_id: RunID,
    data: Closing,
    context: ContextDep,
    session: SessionDep,
    operator: Annotated[Principal, requires("ops:write")],
) -> Run:
    """Give a run up; its subject is compensated (a posting's invoice is open again)."""
    return await _closed(context, session, run_id, RunStatus.DISCARDED, data, operator)
