"""Who is at the console, and what they may do: session, CSRF and role checks.

Every page needs a session (otherwise a redirect to sign in). Every action (a POST)
also needs the session's CSRF token (form field `csrf_token` or header `X-CSRF-Token`)
and a request from the console's own origin (`Sec-Fetch-Site`, `Origin`), and the
operator's role must hold the action's scope. The operator becomes the request's
principal, so the audit trail records the action under their name.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from fastapi import Depends, Request

from app.experience.console.errors import (
    ConsoleSignInRequired,
    CrossSiteRequestRefused,
    InvalidForm,
)
from app.experience.console.roles import ROLES
from app.experience.console.sessions import COOKIE, ConsoleSession, find_session
from core.auth import Forbidden, Principal
from process_apis.deps import ProcessContext

FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FIELD_VALUES = 200


class SignInRequired(Exception):
    """No valid session: the console answers with a redirect to its sign-in page."""


async def signed_in(request: Request) -> ConsoleSession:
    """The request's session; a page without one redirects, an action is a 401."""
    token = request.cookies.get(COOKIE)
    found = None
    if token:
        context: ProcessContext = request.app.state.process
        async with context.sessionmaker() as db:
            found = await find_session(db, token)
    if found is None:
        if request.method in {"GET", "HEAD"}:
            raise SignInRequired
        raise ConsoleSignInRequired("no console session: sign in first")
    request.state.principal = Principal(client_id=found.operator, scopes=ROLES[found.role])
    return found


SignedIn = Annotated[ConsoleSession, Depends(signed_in)]


def same_origin(request: Request) -> None:
    """Refuse a request a browser marks as sent from another site.

    `Sec-Fetch-Site` decides where the browser sends it; otherwise `Origin`, when present,
    must be the console's own (the gateway's `no-referrer` policy makes browsers send
    `Origin: null` even from the console itself, so it cannot decide alone).
    """
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        if fetch_site not in {"same-origin", "none"}:
            raise CrossSiteRequestRefused(f"the browser says the request is {fetch_site}")
        return
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.url.netloc:
        raise CrossSiteRequestRefused(f"the request came from {origin}")


async def form_of(request: Request) -> dict[str, list[str]]:
    """The urlencoded form of an action; anything else is refused."""
    if request.headers.get("content-type", "").split(";")[0].strip() != FORM_TYPE:
        raise InvalidForm(f"an action is sent as {FORM_TYPE}")
    try:
        body = (await request.body()).decode("utf-8", errors="strict")
        return parse_qs(body, keep_blank_values=True, max_num_fields=MAX_FIELD_VALUES)
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidForm("the form is not UTF-8 urlencoded with few enough fields") from error


class Action:
    """A console action needing `scope`: the operator's session, CSRF-checked, and the form."""

    def __init__(self, session: ConsoleSession, form: dict[str, list[str]]) -> None:
        self.session = session
        self.form = form

    def value(self, name: str, default: str = "") -> str:
        return (self.form.get(name) or [default])[0]

    def values(self, name: str) -> list[str]:
        return self.form.get(name, [])


def acting(scope: str) -> Any:
    async def check(request: Request, session: SignedIn) -> Action:
        same_origin(request)
        try:
            form = await form_of(request)
        except InvalidForm:
            form = {}  # no form at all: only a header token can vouch for the request
        sent = request.headers.get("x-csrf-token") or (form.get("csrf_token") or [""])[0]
        if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
            raise CrossSiteRequestRefused("the form token is missing or not this session's")
        if scope not in ROLES[session.role]:
            raise Forbidden(
                f"the role {session.role} may not do this; it needs {scope}",
                missing_scopes=[scope],
            )
        return Action(session, form)

    return Depends(check)
