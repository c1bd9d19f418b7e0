"""`/console/sign-in`, `/console/sign-out` and the OpenID Connect callback."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from app.experience.console.errors import SignInFailed
from app.experience.console.oidc import OidcClient, PendingSignIn
from app.experience.console.operators import authenticate
from app.experience.console.render import page
from app.experience.console.security import SignedIn, acting, form_of, same_origin
from app.experience.console.sessions import COOKIE, close_session, open_session
from core.settings import Settings
from process_apis.deps import ContextDep

router = APIRouter(prefix="/console", include_in_schema=False)

PENDING_COOKIE = "lg_console_oidc"
CALLBACK = "/console/oidc/callback"
PENDING_SECONDS = 600


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.process.settings
    return settings


def _set_session_cookie(request: Request, response: Response, token: str) -> None:
    settings = _settings(request)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(settings.console.session_ttl.total_seconds()),
        path="/console",
        httponly=True,
        samesite="strict",
        secure=settings.console_cookie_secure,
    )


@router.get("/sign-in")
async def sign_in_page(request: Request) -> HTMLResponse:
    oidc = _settings(request).console.oidc_enabled
    return page(request, "sign_in.html", session=None, oidc=oidc, failed=False)


@router.post("/sign-in")
async def sign_in(request: Request, context: ContextDep) -> Response:
    """A local operator's name and password; a session cookie on success."""
    same_origin(request)
    form = await form_of(request)
    name, password = (form.get("name") or [""])[0], (form.get("password") or [""])[0]
    async with context.sessionmaker.begin() as db:
        operator = await authenticate(db, name=name, password=password)
        if operator is None or context.settings.console.oidc_enabled:
            request.state.audit_refusal = {"client_id": name[:80] or None}
            return page(
                request, "sign_in.html", session=None, oidc=False, failed=True, status_code=401
            )
        token = await open_session(
            db,
            operator=operator.name,
            role=operator.role,
            local=True,
            ttl=context.settings.console.session_ttl,
        )
    response = RedirectResponse("/console/exceptions", status_code=303)
    _set_session_cookie(request, response, token)
    return response


@router.post("/sign-out")
async def sign_out(
    request: Request, context: ContextDep, _: Annotated[object, acting("ops:read")]
) -> Response:
    async with context.sessionmaker.begin() as db:
        await close_session(db, request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/console/sign-in", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response


def _redirect_uri(request: Request) -> str:
    configured = _settings(request).console.oidc_redirect_uri
    return configured or str(request.base_url).rstrip("/") + CALLBACK


def _oidc(request: Request) -> OidcClient:
    client: OidcClient | None = getattr(request.app.state, "console_oidc", None)
    if client is None:
        raise SignInFailed("sign-in through an identity provider is not configured")
    return client


@router.get("/oidc/login")
async def oidc_login(request: Request) -> Response:
    url, pending = await _oidc(request).start(_redirect_uri(request))
    response = RedirectResponse(url, status_code=303)
    # Lax: the provider's redirect back is a cross-site navigation.
    response.set_cookie(
        PENDING_COOKIE,
        json.dumps(pending.__dict__),
        max_age=PENDING_SECONDS,
        path=CALLBACK,
        httponly=True,
        samesite="lax",
        secure=_settings(request).console_cookie_secure,
    )
    return response


@router.get("/oidc/callback")
async def oidc_callback(
    request: Request,
    context: ContextDep,
    code: Annotated[str, Query(max_length=2000)],
    state: Annotated[str, Query(max_length=200)],
) -> Response:
    try:
        pending = PendingSignIn(**json.loads(request.cookies.get(PENDING_COOKIE, "")))
    except (ValueError, TypeError) as error:
        raise SignInFailed("no sign-in is under way in this browser") from error
    if state != pending.state:
        raise SignInFailed("the sign-in's state does not match")
    identity = await _oidc(request).finish(
        code=code, redirect_uri=_redirect_uri(request), pending=pending
    )
    async with context.sessionmaker.begin() as db:
        token = await open_session(
            db,
            operator=identity.name,
            role=identity.role,
            local=False,
            ttl=context.settings.console.session_ttl,
        )
    # A page, not a redirect: a SameSite=Strict cookie is not sent along a redirect chain
    # that began on the provider's site; a navigation from this page is same-site.
    response = page(request, "signed_in.html", session=None)
    _set_session_cookie(request, response, token)
    response.delete_cookie(PENDING_COOKIE, path=CALLBACK)
    return response


@router.get("")
async def home(_: SignedIn) -> Response:
    return RedirectResponse("/console/exceptions", status_code=303)
