"""The usage and revenue views in a real Chromium, with data, accessible at both widths."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.browser.conftest import Served, overflow, serious_violations, sign_in
from tests.support.console import invoice_earned_over, metered_usage
from tests.support.usage import Metered


@pytest.mark.parametrize("width", [1280, 768])
async def test_the_usage_and_revenue_views_open_with_data_and_pass_axe(
    served: Served, context: BrowserContext, width: int
) -> None:
    metered = await metered_usage(served.gateway)
    invoice = await invoice_earned_over(served.gateway, months=3)
    checker = await context.browser.new_context(  # type: ignore[union-attr]
        viewport={"width": width, "height": 1000}, bypass_csp=True, accept_downloads=True
    )
    try:
        await _browse(served, await checker.new_page(), metered, invoice["id"])
    finally:
        await checker.close()


async def _browse(served: Served, page: Page, metered: Metered, invoice_id: str) -> None:
    """Usage list, a subscription's periods, the waterfall, its CSV, an invoice's schedule."""
    await sign_in(page, served, "vera", "viewer")

    await page.get_by_role("link", name="Usage").click()
    await page.get_by_role("link", name=metered.subscription_id).click()
    periods = page.locator("table.usage tbody tr")
    await expect(periods).to_have_count(2)
    await expect(periods.last).to_contain_text("7")
    assert await serious_violations(page) == []
    assert await overflow(page) <= 0

    await page.get_by_role("link", name="Revenue").click()
    await page.get_by_label("Legal entity").select_option(label="LG-US")
    await page.get_by_role("button", name="Show").click()
    await expect(page.locator("table.waterfall tbody tr").last).to_contain_text("USD")
    await expect(page.locator("[id^=deferred-] svg rect")).to_have_count(12)
    assert await serious_violations(page) == []
    assert await overflow(page) <= 0

    async with page.expect_download() as download:
        await page.get_by_role("link", name="Download CSV").click()
    saved = await (await download.value).path()
    lines = saved.read_text().splitlines()
    assert lines[0] == "month,currency,billed,recognized,deferred"
    assert len(lines) == 13  # twelve months of USD

    await page.get_by_role("link", name=invoice_id).click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text(invoice_id)
    await expect(page.locator("section table").first.locator("tbody tr")).to_have_count(3)
    assert await serious_violations(page) == []
    assert await overflow(page) <= 0
