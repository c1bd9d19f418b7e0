"""The exception queue: filter, open a run, and replay, resolve or discard one or many."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import RedirectResponse

from app.experience.console.queries import QueueFilters, legal_entities, queue_page
from app.experience.console.render import page
from app.experience.console.security import Action, SignedIn, acting
from core.errors import ErrorClass, LedgergateError
from core.ids import id_pattern
from core.models.base import utcnow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from core.pagination import Cursor
from process_apis.deps import ContextDep, ProcessContext, SessionDep
from process_apis.runs.repository import get_run
from process_apis.workflows import replayer

router = APIRouter(prefix="/console", include_in_schema=False)

RunID = Annotated[str, Path(pattern=id_pattern("workflow_run"))]
CLOSING = {"resolve": RunStatus.RESOLVED, "discard": RunStatus.DISCARDED}
ACTIONS = ("replay", *CLOSING)
MAX_NOTE = 1000


async def _act(context: ProcessContext, action: Action, run_id: str, verb: str) -> str:
    """Do `verb` to one run; the outcome as a sentence (a refusal is an outcome too)."""
    note = action.value("note").strip()[:MAX_NOTE]
    try:
        if verb == "replay":
            await replayer(context).replay(run_id)
        elif not note:
            return "refused: a note is required"
        else:
            await replayer(context).close(
                run_id, status=CLOSING[verb], note=note, operator=action.session.operator
            )
    except LedgergateError as error:
        return f"refused: {error.detail}"
    async with context.sessionmaker() as session:
        run = await session.get(WorkflowRunRow, run_id)
    return str(run.status) if run is not None else "gone"


@router.get("/exceptions")
async def exceptions(
    request: Request,
    session: SessionDep,
    context: ContextDep,
    operator: SignedIn,
    error_class: Annotated[ErrorClass | None, Query()] = None,
    workflow: Annotated[str | None, Query(max_length=60)] = None,
    legal_entity: Annotated[str | None, Query(max_length=40)] = None,
    min_age_hours: Annotated[int | None, Query(ge=0, le=24 * 365)] = None,
    cursor: Cursor = None,
) -> Response:
    now = utcnow()
    filters = QueueFilters(
        error_class=error_class or None,
        workflow=workflow or None,
        legal_entity=legal_entity or None,
        min_age_hours=min_age_hours,
    )
    runs, next_cursor = await queue_page(session, filters, now=now, cursor=cursor)
    entities = await legal_entities(session)
    return page(
        request,
        "exceptions.html",
        session=operator,
        runs=runs,
        now=now,
        filters=filters,
        next_cursor=next_cursor,
        error_classes=list(ErrorClass),
        workflows=sorted(replayer(context).registry),
        legal_entities=entities,
        can_act="ops:write" in _scopes(request),
    )


def _scopes(request: Request) -> frozenset[str]:
    return frozenset(request.state.principal.scopes)


@router.get("/runs/{run_id}")
async def run_detail(
    request: Request, run_id: RunID, session: SessionDep, operator: SignedIn
) -> Response:
    run = await get_run(session, run_id)
    return page(
        request, "run.html", session=operator, run=run, can_act="ops:write" in _scopes(request)
    )


@router.post("/exceptions/{run_id}/{verb}")
async def act_on_one(
    request: Request,
    run_id: RunID,
    verb: Annotated[str, Path(pattern="^(replay|resolve|discard)$")],
    context: ContextDep,
    action: Annotated[Action, acting("ops:write")],
) -> Response:
    outcome = await _act(context, action, run_id, verb)
    if "hx-request" not in request.headers:
        return RedirectResponse(f"/console/runs/{run_id}", status_code=303)
    return page(
        request,
        "outcome_row.html",
        session=action.session,
        run_id=run_id,
        verb=verb,
        outcome=outcome,
    )


@router.post("/exceptions/bulk")
async def act_on_many(
    request: Request, context: ContextDep, action: Annotated[Action, acting("ops:write")]
) -> Response:
    """One run per request: the answer shows progress and asks for the next one itself."""
    verb = action.value("verb")
    run_ids = [r for r in action.values("run_id") if r]
    done = action.values("done")
    if verb in ACTIONS and run_ids:
        outcome = await _act(context, action, run_ids[0], verb)
        done = [*done, f"{run_ids[0]} {verb}: {outcome}"]
        run_ids = run_ids[1:]
    return page(
        request,
        "bulk_progress.html",
        session=action.session,
        verb=verb,
        note=action.value("note"),
        remaining=run_ids,
        done=done,
        total=len(done) + len(run_ids),
    )
