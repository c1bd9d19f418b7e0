"""Browser fixtures: the gateway served on a port, and Debian's Chromium driven by Playwright.

A failing test leaves a screenshot of each of its pages in `var/test-artifacts/browser/`
(`LEDGERGATE_TEST_ARTIFACTS` elsewhere), for the CI run to keep.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from app.governance.protocol import GatewayProtocol
from tests.conftest import Gateway, GatewayFactory
from tests.support.console import PASSWORD, add_operator, gateway_with_erp_switch
from tests.support.faults import SwitchableTransport
from tests.support.sandbox_processes import REPO_ROOT
from tests.support.services import service_missing

CHROMIUM = os.environ.get("LEDGERGATE_CHROMIUM", "/usr/bin/chromium")
AXE = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = (
    Path(os.environ.get("LEDGERGATE_TEST_ARTIFACTS", REPO_ROOT / "var" / "test-artifacts"))
    / "browser"
)


@dataclass
class Served:
    gateway: Gateway
    erp: SwitchableTransport
    url: str


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.stash[FAILED] = report.failed


FAILED = pytest.StashKey[bool]()


@pytest.fixture
async def served(make_gateway: GatewayFactory) -> AsyncIterator[Served]:
    """The gateway (ERP switchable) served by uvicorn on a free port of 127.0.0.1."""
    gateway, erp = await gateway_with_erp_switch(make_gateway)
    config = uvicorn.Config(
        gateway.app,
        host="127.0.0.1",
        port=0,
        lifespan="off",
        log_level="warning",
        http=GatewayProtocol,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield Served(gateway, erp, f"http://127.0.0.1:{port}")
    server.should_exit = True
    await task


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One Chromium for the session; each test gets its own context (cookies, storage)."""
    if shutil.which(CHROMIUM) is None:
        service_missing("Chromium", f"{CHROMIUM} is not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        await launched.close()


@pytest.fixture
async def context(
    browser: Browser, request: pytest.FixtureRequest
) -> AsyncIterator[BrowserContext]:
    """A 1280 px browser context; on failure, a screenshot of each of its pages."""
    opened = await browser.new_context(viewport={"width": 1280, "height": 900})
    yield opened
    if request.node.stash.get(FAILED, False):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
        for index, page in enumerate(opened.pages):
            await page.screenshot(path=str(ARTIFACTS / f"{name}-{index}.png"), full_page=True)
    await opened.close()


async def sign_in(page: Page, served: Served, name: str, role: str) -> None:
    """Create the operator and sign in through the form, as a person would."""
    await add_operator(served.gateway, name, role)
    await page.goto(f"{served.url}/console")
    await page.get_by_label("Operator").fill(name)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{served.url}/console/exceptions")


async def serious_violations(page: Page) -> list[tuple[str, str, list[object]]]:
    """axe-core's serious and critical violations of the page (WCAG 2 A/AA, best practice)."""
    if not AXE.exists():
        pytest.fail("axe-core is missing: make tools installs it from package.json")
    await page.add_script_tag(path=str(AXE))
    results = await page.evaluate(
        "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'best-practice']})"
    )
    return [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]][:3])
        for v in results["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


async def overflow(page: Page) -> int:
    """How far the page scrolls sideways (0 when it fits the viewport)."""
    width: int = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return width
