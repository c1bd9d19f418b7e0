"""Mount the console on the gateway: its pages, static assets and sign-in redirect."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from app.experience.console import credits, pages, queue, revenue, signin, usage
from app.experience.console.oidc import OidcClient
from app.experience.console.render import STATIC
from app.experience.console.security import SignInRequired
from core.settings import Settings
from process_apis.cache import TtlCache

SIGN_IN = "/console/sign-in"


async def _to_sign_in(request: Request, _exc: Exception) -> Response:
    if "hx-request" in request.headers:  # htmx follows this header with a full navigation
        return Response(status_code=204, headers={"HX-Redirect": SIGN_IN})
    return RedirectResponse(SIGN_IN, status_code=303)


def install_console(app: FastAPI, settings: Settings) -> None:
    app.add_exception_handler(SignInRequired, _to_sign_in)
    app.state.console_oidc = OidcClient(settings.console) if settings.console.oidc_enabled else None
    app.state.console_kpis = TtlCache(ttl=pages.KPI_SECONDS)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    for module in (signin, queue, pages, credits, usage, revenue):
        app.include_router(module.router)
