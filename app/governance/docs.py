"""Swagger UI at `/docs` and ReDoc at `/redoc`, from assets packaged with the gateway.

FastAPI's own pages load their scripts from a CDN, which a gateway on a closed network
cannot reach. The assets in `docs_assets/` are vendored from the pinned npm packages
(`make docs-assets`, versions in `docs_assets/VERSIONS`) and served at
`/docs/assets/...`, so the pages reference nothing outside the gateway.

`install_docs` also serves the contracts at `/openapi/<name>.json`; `create_app` calls
it only when `settings.serves_docs` (never in production unless asked for).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.governance import contracts

ASSETS_DIRECTORY = Path(__file__).parent / "docs_assets"
ASSETS_PATH = "/docs/assets"
DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"


def install_docs(app: FastAPI, *, openapi_url: str = "/openapi.json") -> None:
    """Mount the packaged assets and the two documentation pages on `app`."""
    title = f"{app.title} API"
    favicon = f"{ASSETS_PATH}/favicon-32x32.png"
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIRECTORY), name="docs-assets")
    app.include_router(contracts.router)

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=favicon,
            oauth2_redirect_url=OAUTH2_REDIRECT_PATH,
        )

    @app.get(OAUTH2_REDIRECT_PATH, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_PATH, include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=title,
            redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )
