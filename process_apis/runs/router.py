"""`/v1/runs`: where a caller follows a workflow it started."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from core.auth import requires
from core.ids import id_pattern
from core.problems import problem_responses
from process_apis.deps import SessionDep
from process_apis.runs.repository import get_run
from process_apis.runs.schemas import Run

RunID = Annotated[
    str, Path(pattern=id_pattern("workflow_run"), examples=["run_01jd0000000000000000000000"])
]

router = APIRouter(prefix="/v1/runs", tags=["runs"])


@router.get(
    "/{run_id}",
    response_model=Run,
    operation_id="runs-get",
    dependencies=[requires("runs:read")],
    summary="Get a workflow run",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_workflow_run(run_id: RunID, session: SessionDep) -> Run:
    """A workflow run with every step it took, its outcome and, if queued, when it retries."""
    return Run.model_validate(await get_run(session, run_id))
