"""Console helpers: operators, signed-in browsers (httpx), a queued posting to act on, and
the data of the usage and revenue views."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import httpx

from app.experience.console.operators import create_operator
from app.seed import demo_id
from core.models.usage_report import UsageReportRow, UsageReportStatus
from core.quantity import SCALE
from process_apis.usage.periods import add_months
from tests.conftest import Gateway, GatewayFactory
from tests.integration.test_credit_memos import posted_invoice
from tests.support.calendar import month_start
from tests.support.faults import SwitchableTransport, switchable_backends
from tests.support.invoices import invoice_body
from tests.support.usage import Metered, metered_subscription

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def add_operator(gateway: Gateway, name: str, role: str) -> None:
    async with gateway.sessionmaker.begin() as session:
        await create_operator(session, name=name, role=role, password=PASSWORD)


async def signed_in(gateway: Gateway, name: str, role: str) -> tuple[httpx.AsyncClient, str]:
    """A new operator, signed in: its cookie-holding client and its CSRF token."""
    await add_operator(gateway, name, role)
    browser = httpx.AsyncClient(
        transport=gateway.anonymous._transport, base_url=gateway.anonymous.base_url
    )
    response = await browser.post("/console/sign-in", data={"name": name, "password": PASSWORD})
    assert response.status_code == 303, response.text
    page = await browser.get("/console/exceptions")
    match = CSRF.search(page.text)
    assert match is not None, page.text
    return browser, match.group(1)


async def gateway_with_erp_switch(
    make_gateway: GatewayFactory, **overrides: object
) -> tuple[Gateway, SwitchableTransport]:
    switches, wrap = switchable_backends()

    gateway = await make_gateway(wrap=wrap, **overrides)
    return gateway, switches["erp"]


async def queued_posting(gateway: Gateway, erp: SwitchableTransport, key: str) -> tuple[str, str]:
    """An invoice whose posting waits in the exception queue: (invoice id, run id)."""
    invoice_id = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()["id"]
    erp.down = True
    response = await gateway.client.post(
        f"/v1/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": key}
    )
    erp.down = False
    assert response.status_code == 202, response.text
    return invoice_id, response.json()["run_id"]


async def invoice_earned_over(gateway: Gateway, *, months: int) -> dict[str, Any]:
    """A posted invoice whose first line (3 × 4900, Pro) is earned over `months` months
    from this one's start: a revenue schedule and a waterfall of the US legal entity."""
    body = invoice_body(invoice_date=date.today())
    line = body["lines"][0]
    line["service_period_start"] = month_start(0).isoformat()
    line["service_period_end"] = (month_start(months) - timedelta(days=1)).isoformat()
    line["product_id"] = demo_id("product", 1)
    return await posted_invoice(gateway, body)


async def metered_usage(gateway: Gateway) -> Metered:
    """A metered subscription with 3 + 4 units this period, and the period before closed:
    5 units reported, 3 invoiced by billing (`in_usage_test`), a usage difference."""
    metered = await metered_subscription(gateway.sessionmaker)
    meter = await gateway.client_with(["usage:write"], client_id="meter")
    sent = await meter.post(
        "/v1/usage-events",
        json={"events": [metered.event("u-1", quantity=3), metered.event("u-2", quantity=4)]},
    )
    assert sent.json()["accepted"] == 2, sent.text
    async with gateway.sessionmaker.begin() as session:
        session.add(
            UsageReportRow(
                subscription_id=metered.subscription_id,
                price_id=metered.price_id,
                period_start=add_months(metered.anchor, -1),
                period_end=metered.anchor,
                status=UsageReportStatus.CLOSED,
                reported_micros=5 * SCALE,
                invoice_ref="in_usage_test",
                invoiced_quantity=3,
            )
        )
    return metered
