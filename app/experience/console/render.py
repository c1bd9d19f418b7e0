"""Jinja2 pages under the console's Content-Security-Policy (no inline script or style).

Jinja2 is loaded at the first page rendered: a gateway worker whose console nobody
opens does not hold it."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from app.experience.console.sessions import ConsoleSession

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


@cache
def environment() -> Environment:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def page(
    request: Request,
    template: str,
    *,
    session: ConsoleSession | None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    """`template` rendered for the signed-in operator (or for nobody, the sign-in page)."""
    html = (
        environment()
        .get_template(template)
        .render(request=request, session=session, path=request.url.path, **values)
    )
    return HTMLResponse(html, status_code=status_code, headers=headers)
