"""Swagger UI and ReDoc work offline: every asset they load is served by the gateway itself."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest

from app.governance.docs import ASSETS_DIRECTORY
from app.main import create_app
from core.settings import Settings


class References(HTMLParser):
    """Every URL a page loads: script/img/iframe `src`, link `href`, and URLs in inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("script", "img", "iframe") and values.get("src"):
            self.urls.append(str(values["src"]))
        if tag == "link" and values.get("href"):
            self.urls.append(str(values["href"]))
        if tag == "redoc" and values.get("spec-url"):
            self.urls.append(str(values["spec-url"]))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.urls += re.findall(r"""(?:url|href|src)\s*:\s*['"]([^'"]+)['"]""", data)
            self.urls += re.findall(r"https?://[^\s'\"`]+", data)


@pytest.fixture
async def client() -> httpx.AsyncClient:
    app = create_app(Settings(_env_file=None, environment="test"))  # type: ignore[call-arg]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_load_only_local_assets(client: httpx.AsyncClient, page: str) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    parser = References()
    parser.feed(response.text)
    assert parser.urls, "the page loads its assets"
    for url in parser.urls:
        assert re.match(r"^/[^/]", url), f"{page} loads {url}"
        if url != "/openapi.json":
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert asset.content, url


async def test_the_assets_are_served_from_the_package(client: httpx.AsyncClient) -> None:
    for name, media_type in [
        ("swagger-ui-bundle.js", "javascript"),
        ("swagger-ui.css", "text/css"),
        ("redoc.standalone.js", "javascript"),
    ]:
        response = await client.get(f"/docs/assets/{name}")
        assert response.status_code == 200
        assert media_type in response.headers["content-type"]
        assert response.content == (ASSETS_DIRECTORY / name).read_bytes()
    assert (await client.get("/docs/assets/../openapi.py")).status_code == 404


async def test_swagger_ui_can_complete_an_oauth2_redirect(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs/oauth2-redirect")
    assert response.status_code == 200
    assert "oauth2" in response.text.lower()
