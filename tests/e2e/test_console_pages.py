"""The console's pages: queue filters, backlog, reconciliation drill-down, KPIs, webhooks, audit."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import update

from app.seed import demo_id
from core.models.base import utcnow
from core.models.invoice import InvoiceRow
from core.models.workflow_run import WorkflowRunRow
from tests.conftest import GatewayFactory
from tests.support.console import gateway_with_erp_switch, queued_posting, signed_in
from tests.support.invoices import invoice_body

US, DE = demo_id("legal_entity", 1), demo_id("legal_entity", 2)
BAR = re.compile(r'<rect x="[0-9.]+" y="[0-9.]+" width="[0-9.]+" height="([0-9.]+)"')


def bar_heights(html: str, chart_id: str) -> list[float]:
    figure = html.split(f'id="{chart_id}"', 1)[1].split("</figure>", 1)[0]
    return [float(h) for h in BAR.findall(figure)]


async def test_the_queue_filters_by_legal_entity_workflow_class_and_age(
    make_gateway: GatewayFactory,
) -> None:
    gateway, erp = await gateway_with_erp_switch(make_gateway)
    _, run_id = await queued_posting(gateway, erp, "pages-1")
    browser, _ = await signed_in(gateway, "vera", "viewer")

    async def shown(**params: str) -> bool:
        page = await browser.get("/console/exceptions", params=params)
        assert page.status_code == 200, page.text
        return run_id in page.text

    assert await shown(legal_entity=US)
    assert not await shown(legal_entity=DE)
    assert await shown(workflow="invoice_posting")
    assert not await shown(workflow="settlement_posting")
    assert await shown(error_class="transient")
    assert not await shown(error_class="business")
    assert not await shown(min_age_hours="2")
    async with gateway.sessionmaker.begin() as session:
        await session.execute(
            update(WorkflowRunRow)
            .where(WorkflowRunRow.id == run_id)
            .values(created_at=utcnow() - timedelta(hours=3))
        )
    assert await shown(min_age_hours="2")
    refused = await browser.get("/console/exceptions", params={"error_class": "nonsense"})
    assert refused.status_code == 422
    assert refused.json()["type"].endswith("/validation-error")


async def test_postings_show_the_backlog_and_the_days_throughput(
    make_gateway: GatewayFactory,
) -> None:
    gateway, erp = await gateway_with_erp_switch(make_gateway)
    await queued_posting(gateway, erp, "pages-2")
    posted = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()["id"]
    response = await gateway.client.post(
        f"/v1/invoices/{posted}/postings", json={}, headers={"Idempotency-Key": "pages-3"}
    )
    assert response.status_code == 201, response.text
    browser, _ = await signed_in(gateway, "vera", "viewer")
    page = (await browser.get("/console/postings")).text
    assert re.search(r"<td>posting runs in the exception queue</td><td><a [^>]*>1</a>", page)
    heights = bar_heights(page, "throughput")
    assert len(heights) == 14
    assert heights[-1] > 0
    assert heights[:-1] == [0.0] * 13


async def test_a_reconciliation_difference_opens_with_its_cause(
    make_gateway: GatewayFactory,
) -> None:
    gateway, erp = await gateway_with_erp_switch(make_gateway)
    invoice_id, _ = await queued_posting(gateway, erp, "pages-4")
    async with gateway.sessionmaker.begin() as session:  # the gateway believes it posted
        await session.execute(
            update(InvoiceRow)
            .where(InvoiceRow.id == invoice_id)
            .values(status="posted", posting_date=date.today())
        )
    browser, csrf = await signed_in(gateway, "vera", "viewer")
    period = date.today().strftime("%Y-%m")
    started = await browser.post(
        "/console/reconciliation",
        data={"csrf_token": csrf, "period": period, "legal_entity": US},
    )
    assert started.status_code == 303, started.text
    report = await browser.get(started.headers["location"])
    assert invoice_id in report.text
    link = re.search(r'href="(/console/reconciliation/rec_\w+/differences/\d+)"', report.text)
    assert link is not None
    difference = await browser.get(link.group(1))
    assert difference.status_code == 200
    assert "registered in the gateway, not posted in the ERP" in difference.text
    assert invoice_id in difference.text
    listed = await browser.get("/console/reconciliation", params={"legal_entity": US})
    assert started.headers["location"].rsplit("/", 1)[1] in listed.text
    missing = await browser.get(link.group(1).rsplit("/", 1)[0] + "/9999")
    assert missing.status_code == 404


async def test_kpi_charts_draw_the_months_figures(make_gateway: GatewayFactory) -> None:
    gateway, erp = await gateway_with_erp_switch(make_gateway)
    await queued_posting(gateway, erp, "pages-5")
    posted = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()["id"]
    await gateway.client.post(
        f"/v1/invoices/{posted}/postings", json={}, headers={"Idempotency-Key": "pages-6"}
    )
    browser, _ = await signed_in(gateway, "vera", "viewer")
    page = (await browser.get("/console/kpis")).text
    assert len(bar_heights(page, "latency")) == 4
    ageing = bar_heights(page, "ageing")
    assert ageing[0] > 0  # the queued posting is under an hour old
    assert ageing[1:] == [0.0, 0.0, 0.0]
    assert bar_heights(page, "stp")  # a bar per workflow that ran this month
    assert "<dt>Invoices posted</dt><dd>1</dd>" in page
    last_year = await browser.get("/console/kpis", params={"period": "2000-01"})
    assert "No data in this period." in last_year.text


async def test_webhook_endpoints_and_the_audit_trail_are_paged(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway(webhooks={"allow_private_addresses": True})
    created = await gateway.client.post(
        "/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/lg", "event_types": []}
    )
    assert created.status_code == 201, created.text
    endpoint_id = created.json()["id"]
    browser, csrf = await signed_in(gateway, "ana", "operator")
    endpoints = await browser.get("/console/webhooks")
    assert endpoint_id in endpoints.text
    deliveries = await browser.get(f"/console/webhooks/{endpoint_id}")
    assert deliveries.status_code == 200
    assert "127.0.0.1:9/lg" in deliveries.text
    for _ in range(55):  # more than a page of audit rows
        await gateway.client.post("/v1/invoices", json=invoice_body())
    first = await browser.get("/console/audit")
    assert first.text.count("POST /v1/invoices") == 50
    older = re.search(r'href="\?cursor=([^"]+)" rel="next"', first.text)
    assert older is not None
    second = await browser.get("/console/audit", params={"cursor": older.group(1)})
    assert second.text.count("<tr><td>") >= 6
    mine = await browser.get("/console/audit", params={"client_id": "ana"})
    assert "POST /v1/invoices" not in mine.text
