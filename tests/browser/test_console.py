"""The console in a real Chromium, used as a person would use it."""

from __future__ import annotations

import asyncio
import re
from datetime import date

import pytest
import uvicorn
from playwright.async_api import BrowserContext, ConsoleMessage, Page, expect
from sqlalchemy import select, update
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from core.models.audit_event import AuditEventRow
from core.models.invoice import InvoiceRow
from tests.browser.conftest import Served, overflow, serious_violations, sign_in
from tests.support.console import queued_posting
from tests.support.invoices import invoice_body

PAGES = (
    "/console/exceptions",
    "/console/postings",
    "/console/reconciliation",
    "/console/credits",
    "/console/kpis",
    "/console/usage",
    "/console/revenue",
    "/console/webhooks",
    "/console/audit",
)


def csp_violations(page: Page) -> list[str]:
    """Messages of the Content-Security-Policy refusals the page logs from now on."""
    found: list[str] = []

    def seen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            found.append(message.text)

    page.on("console", seen)
    return found


async def test_an_operator_replays_a_failed_posting_and_watches_it_go(
    served: Served, context: BrowserContext
) -> None:
    invoice_id, run_id = await queued_posting(served.gateway, served.erp, "browser-1")
    page = await context.new_page()
    refused = csp_violations(page)
    await sign_in(page, served, "ana", "operator")
    row = page.locator(f"#row-{run_id}")
    await expect(row).to_contain_text("invoice_posting")
    await expect(row).to_contain_text("pending_retry")
    await row.get_by_role("button", name="Replay").click()
    await expect(page.locator(f"#row-{run_id}")).to_contain_text("replay: succeeded")
    await page.reload()
    await expect(page.locator(f"#row-{run_id}")).to_have_count(0)
    invoice = (await served.gateway.client.get(f"/v1/invoices/{invoice_id}")).json()
    assert invoice["status"] == "posted"
    assert refused == []


async def test_a_run_opens_with_its_steps_and_many_are_discarded_with_progress(
    served: Served, context: BrowserContext
) -> None:
    runs = [
        (await queued_posting(served.gateway, served.erp, f"browser-2-{i}"))[1] for i in range(3)
    ]
    page = await context.new_page()
    await sign_in(page, served, "ana", "operator")
    await page.get_by_role("link", name=runs[0]).click()
    await expect(page.get_by_role("heading", name=f"Run {runs[0]}")).to_be_visible()
    await expect(page.get_by_role("cell", name="check_tax_codes")).to_be_visible()
    await page.go_back()
    for run_id in runs:
        await page.get_by_label(f"Select {run_id}").check()
    await page.get_by_label("Action").select_option("discard")
    await page.get_by_label("Note (resolve, discard)").fill("sent twice by billing")
    await page.get_by_role("button", name="Apply to selected").click()
    await expect(page.locator("#bulk")).to_contain_text("3 of 3 done")
    await expect(page.locator("#bulk progress")).to_have_attribute("value", "3")
    await page.reload()
    for run_id in runs:
        await expect(page.locator(f"#row-{run_id}")).to_have_count(0)


async def test_a_reconciliation_difference_opens_from_the_report(
    served: Served, context: BrowserContext
) -> None:
    invoice_id, _ = await queued_posting(served.gateway, served.erp, "browser-3")
    async with served.gateway.sessionmaker.begin() as session:  # the gateway believes it posted
        await session.execute(
            update(InvoiceRow)
            .where(InvoiceRow.id == invoice_id)
            .values(status="posted", posting_date=date.today())
        )
    page = await context.new_page()
    await sign_in(page, served, "vera", "viewer")
    await page.get_by_role("link", name="Reconciliation").click()
    await page.get_by_label("Legal entity").select_option(label="LG-US")
    await page.get_by_role("button", name="Reconcile now").click()
    await expect(page.get_by_role("heading", name=re.compile("Reconciliation"))).to_be_visible()
    differences = page.locator("table.differences tbody tr", has_text=invoice_id)
    await differences.get_by_role("link").click()
    await expect(page.locator("#cause")).to_have_text(
        "registered in the gateway, not posted in the ERP"
    )


async def test_the_kpi_charts_draw_with_data(served: Served, context: BrowserContext) -> None:
    await queued_posting(served.gateway, served.erp, "browser-4")
    invoice = (await served.gateway.client.post("/v1/invoices", json=invoice_body())).json()
    posted = await served.gateway.client.post(
        f"/v1/invoices/{invoice['id']}/postings", json={}, headers={"Idempotency-Key": "b-5"}
    )
    assert posted.status_code == 201
    page = await context.new_page()
    refused = csp_violations(page)
    await sign_in(page, served, "vera", "viewer")
    await page.get_by_role("link", name="KPIs").click()
    for chart in ("latency", "stp", "ageing"):
        svg = page.locator(f"#{chart} svg")
        await expect(svg).to_be_visible()
        heights = [
            (await bar.bounding_box() or {"height": 0})["height"]
            for bar in await svg.locator("rect").all()
        ]
        assert heights, chart
        assert max(heights) > 10, (chart, heights)  # drawn, with data, on screen
    await page.get_by_role("link", name="Postings").click()
    await expect(page.locator("#throughput svg rect")).to_have_count(14)
    assert refused == []


async def test_an_operator_without_the_role_cannot_act(
    served: Served, context: BrowserContext
) -> None:
    _, run_id = await queued_posting(served.gateway, served.erp, "browser-6")
    page = await context.new_page()
    await sign_in(page, served, "vera", "viewer")
    row = page.locator(f"#row-{run_id}")
    await expect(row).to_be_visible()
    await expect(row.get_by_role("button")).to_have_count(0)
    token = await page.locator('input[name="csrf_token"]').first.get_attribute("value")
    answer = await page.request.post(
        f"{served.url}/console/exceptions/{run_id}/replay", form={"csrf_token": token or ""}
    )
    assert answer.status == 403
    assert (await answer.json())["type"].endswith("/forbidden")
    await page.reload()
    await expect(page.locator(f"#row-{run_id}")).to_contain_text("pending_retry")


async def test_a_request_from_another_site_is_refused(
    served: Served, context: BrowserContext
) -> None:
    _, run_id = await queued_posting(served.gateway, served.erp, "browser-7")
    console = await context.new_page()
    await sign_in(console, served, "ana", "operator")
    target = f"{served.url}/console/exceptions/{run_id}/replay"

    async def lure(_: object) -> HTMLResponse:  # a page on another site posts the form itself
        return HTMLResponse(
            f'<form id="f" method="post" action="{target}">'
            '<input name="csrf_token" value="guessed"></form>'
            '<script>document.getElementById("f").submit()</script>'
        )

    other = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/", lure)]), host="127.0.0.1", port=0, log_level="warning"
        )
    )
    task = asyncio.create_task(other.serve())
    while not other.started:
        await asyncio.sleep(0.02)
    port = other.servers[0].sockets[0].getsockname()[1]
    try:
        attacker = await context.new_page()
        async with attacker.expect_navigation(url=re.compile("/console/")):
            await attacker.goto(f"http://localhost:{port}/")
        await expect(attacker.locator("body")).to_contain_text(
            re.compile("sign in|cross-site", re.IGNORECASE)
        )
    finally:
        other.should_exit = True
        await task
    await console.reload()
    await expect(console.locator(f"#row-{run_id}")).to_contain_text("pending_retry")
    async with served.gateway.sessionmaker() as session:
        replays = await session.scalars(
            select(AuditEventRow).where(
                AuditEventRow.object_id == run_id, AuditEventRow.outcome == "succeeded"
            )
        )
        assert list(replays) == []


@pytest.mark.parametrize("width", [1280, 768])
async def test_every_page_has_no_serious_accessibility_violation(
    served: Served, context: BrowserContext, width: int
) -> None:
    await queued_posting(served.gateway, served.erp, f"browser-8-{width}")
    checker = await context.browser.new_context(  # type: ignore[union-attr]
        viewport={"width": width, "height": 1000}, bypass_csp=True
    )
    page = await checker.new_page()
    try:
        await sign_in(page, served, "ana", "operator")
        for path in ("/console/sign-in", *PAGES):
            await page.goto(f"{served.url}{path}")
            assert await serious_violations(page) == [], path
            assert await overflow(page) <= 0, (path, width)
    finally:
        await checker.close()
