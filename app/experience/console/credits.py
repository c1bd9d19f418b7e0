"""Credits in the console, with the API's four eyes: an operator requests a credit on a
posted invoice; one above the approval threshold waits until another operator approves it.

Both go through the same workflow and idempotency store as `POST /v1/credit-memos` and
`.../approve`, under the operator's name: the form carries a key minted when it was
drawn, so a double submit or a resent form is answered once.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from app.experience.console.queries import PAGE_SIZE
from app.experience.console.render import page
from app.experience.console.security import Action, SignedIn, acting
from app.experience.console.sessions import ConsoleSession
from core.canonical.documents import CreditMemoStatus, CreditSettlement
from core.ids import id_pattern
from core.models.credit_memo import CreditMemoRow
from core.pagination import Cursor, keyset_page
from process_apis.credit_memos import repository, service
from process_apis.credit_memos.router import credit_memo_outcome
from process_apis.credit_memos.schemas import CreditMemoApproval, CreditMemoCreate, CreditReason
from process_apis.credit_memos.workflow import CreditMemoWorkflow
from process_apis.deps import ContextDep, ProcessContext, SessionDep
from process_apis.idempotency import IdempotencyStore, Outcome, run_idempotently

router = APIRouter(prefix="/console", include_in_schema=False)

CreditMemoID = Annotated[str, Path(pattern=id_pattern("credit_memo"))]
SELF_APPROVAL = "credit-self-approval"
FIELDS = ("invoice_id", "amount", "currency", "reason_code", "case_id", "note", "settlement")


def _scopes(request: Request) -> frozenset[str]:
    return frozenset(request.state.principal.scopes)


def form_key() -> str:
    """A fresh idempotency key for one drawn form."""
    return secrets.token_urlsafe(16)


async def _waiting(
    session: SessionDep, cursor: str | None
) -> tuple[list[CreditMemoRow], str | None]:
    """A page of the credits waiting for approval, newest first."""
    query = select(CreditMemoRow).where(CreditMemoRow.status == CreditMemoStatus.REQUESTED)
    return await keyset_page(session, query, CreditMemoRow.id, cursor=cursor, limit=PAGE_SIZE)


@router.get("/credits")
async def credits(
    request: Request, session: SessionDep, operator: SignedIn, cursor: Cursor = None
) -> Response:
    """Credits waiting for approval, and the form to request one."""
    return await _credits_page(request, session, operator, cursor=cursor)


async def _credits_page(
    request: Request,
    session: SessionDep,
    operator: ConsoleSession,
    *,
    cursor: str | None = None,
    refused: str = "",
    sent: dict[str, str] | None = None,
) -> Response:
    memos, next_cursor = await _waiting(session, cursor)
    return page(
        request,
        "credits.html",
        session=operator,
        status_code=422 if refused else 200,
        memos=memos,
        next_cursor=next_cursor,
        query="",
        reasons=[reason.value for reason in CreditReason if reason != CreditReason.PLAN_DOWNGRADE],
        settlements=[s.value for s in CreditSettlement],
        key=form_key(),
        refused=refused,
        sent=sent or {},
        can_request="credit_memos:write" in _scopes(request),
    )


async def _idempotently(
    context: ProcessContext,
    request: Request,
    action: Action,
    body: BaseModel,
    handler: Callable[[], Awaitable[Outcome]],
) -> tuple[int, dict[str, Any]]:
    """Run `handler` once per form key; its status and JSON answer (a problem too)."""
    store = IdempotencyStore(context.sessionmaker, context.settings.idempotency_retention)
    answer = await run_idempotently(
        store,
        request,
        client_id=action.session.operator,
        key=action.value("idempotency_key") or form_key(),
        body=body,
        handler=handler,
    )
    return answer.status_code, json.loads(bytes(answer.body))


def _refusal(problem: dict[str, Any]) -> str:
    if str(problem.get("type", "")).endswith(SELF_APPROVAL):
        return "Four eyes: you requested this credit, so another operator must approve it."
    return f"{problem.get('title', 'Refused')}: {problem.get('detail', '')}"


@router.post("/credits")
async def request_credit(
    request: Request,
    session: SessionDep,
    context: ContextDep,
    action: Annotated[Action, acting("credit_memos:write")],
) -> Response:
    """Request a credit as the operator; above the threshold it waits for another one."""
    sent = {name: action.value(name).strip() for name in FIELDS}
    values: dict[str, Any] = {name: value for name, value in sent.items() if value}
    if values.get("amount", "").lstrip("-").isdigit():  # the model takes integers only
        values["amount"] = int(values["amount"])
    try:
        data = CreditMemoCreate.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "form"
        return await _credits_page(
            request, session, action.session, refused=f"{where}: {first['msg']}", sent=sent
        )

    async def handle() -> Outcome:
        memo = await CreditMemoWorkflow(context).request(
            data,
            principal=request.state.principal,
            correlation_id=getattr(request.state, "correlation_id", None),
        )
        return credit_memo_outcome(memo, created=True)

    status, answer = await _idempotently(context, request, action, data, handle)
    if status >= 400:
        return await _credits_page(
            request, session, action.session, refused=_refusal(answer), sent=sent
        )
    return RedirectResponse(f"/console/credits/{answer['id']}", status_code=303)


@router.get("/credits/{credit_memo_id}")
async def credit(
    request: Request,
    credit_memo_id: CreditMemoID,
    session: SessionDep,
    operator: SignedIn,
) -> Response:
    memo = await repository.get_credit_memo(session, credit_memo_id)
    return page(
        request,
        "credit.html",
        session=operator,
        memo=memo,
        key=form_key(),
        refused="",
        can_approve="credit_memos:approve" in _scopes(request),
    )


@router.post("/credits/{credit_memo_id}/approve")
async def approve_credit(
    request: Request,
    credit_memo_id: CreditMemoID,
    session: SessionDep,
    context: ContextDep,
    action: Annotated[Action, acting("credit_memos:approve")],
) -> Response:
    """Approve and issue the credit as the operator; its requester is refused (four eyes)."""
    data = CreditMemoApproval(note=action.value("note").strip()[:400] or None)

    async def handle() -> Outcome:
        memo = await service.approve(
            context,
            credit_memo_id,
            approver=action.session.operator,
            correlation_id=getattr(request.state, "correlation_id", None),
            note=data.note,
        )
        return credit_memo_outcome(memo, created=False)

    status, answer = await _idempotently(context, request, action, data, handle)
    if status < 400:
        return RedirectResponse(f"/console/credits/{credit_memo_id}", status_code=303)
    memo = await repository.get_credit_memo(session, credit_memo_id)
    return page(
        request,
        "credit.html",
        session=action.session,
        status_code=status,
        memo=memo,
        key=form_key(),
        refused=_refusal(answer),
        can_approve=True,
    )
