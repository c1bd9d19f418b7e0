"""Four eyes in a real Chromium: operator A requests a credit, A cannot approve it,
operator B approves it."""

from __future__ import annotations

from playwright.async_api import Browser, BrowserContext, expect
from sqlalchemy import select

from core.models.audit_event import AuditEventRow
from tests.browser.conftest import Served, serious_violations, sign_in
from tests.browser.test_console import csp_violations
from tests.integration.test_credit_memos import open_case, posted_invoice


async def test_one_operator_requests_a_credit_and_another_approves_it(
    served: Served, context: BrowserContext, browser: Browser
) -> None:
    invoice = await posted_invoice(served.gateway)
    case_id = await open_case(served.gateway)
    ana = await context.new_page()
    blocked = csp_violations(ana)
    await sign_in(ana, served, "ana", "operator")
    await ana.get_by_role("link", name="Credits").click()
    await ana.get_by_label("Invoice", exact=True).fill(invoice["id"])
    await ana.get_by_label("Amount (minor units, before tax)").fill("15000")
    await ana.get_by_label("Currency").fill("USD")
    await ana.get_by_label("Reason").select_option("outage")
    await ana.get_by_label("Support case").fill(case_id)
    await ana.get_by_role("button", name="Request credit").click()
    await expect(ana.locator("#credit-status")).to_have_text("requested")
    await expect(ana.locator("#requested-by")).to_have_text("ana")
    memo_url = ana.url

    await ana.get_by_role("button", name="Approve and issue").click()
    await expect(ana.get_by_role("alert")).to_have_text(
        "Four eyes: you requested this credit, so another operator must approve it."
    )
    await expect(ana.locator("#credit-status")).to_have_text("requested")

    # bypass_csp only so that axe-core can be added to the page
    other = await browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    try:
        bob = await other.new_page()
        await sign_in(bob, served, "bob", "operator")
        await bob.get_by_role("link", name="Credits").click()
        await bob.get_by_role("link", name=memo_url.rsplit("/", 1)[1]).click()
        assert await serious_violations(bob) == []
        await bob.get_by_label("Approval note").fill("agreed with support")
        await bob.get_by_role("button", name="Approve and issue").click()
        await expect(bob.locator("#credit-status")).to_have_text("posted")
        await expect(bob.locator("#approved-by")).to_have_text("bob")
    finally:
        await other.close()
    async with served.gateway.sessionmaker() as session:
        actors = set(
            await session.scalars(
                select(AuditEventRow.client_id).where(
                    AuditEventRow.object_id == memo_url.rsplit("/", 1)[1]
                )
            )
        )
    assert {"ana", "bob"} <= actors
    assert blocked == []
