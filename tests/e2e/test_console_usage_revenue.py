"""The console's usage and revenue views: the same figures as the API, filtered by legal
entity, with the CSV and the drill-downs to an invoice's schedule and a usage difference."""

from __future__ import annotations

import html
import re

from app.seed import demo_id
from tests.conftest import GatewayFactory
from tests.support.calendar import month_start
from tests.support.console import invoice_earned_over, metered_usage, signed_in

US, DE = demo_id("legal_entity", 1), demo_id("legal_entity", 2)
CELLS = re.compile(r"<td>([^<]*)</td>")


def rows(page: str, table_class: str) -> list[list[str]]:
    """The cells of each body row of the table of `table_class`."""
    table = page.split(f'<table class="{table_class}">', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    return [CELLS.findall(row) for row in body.split("<tr>")[1:]]


async def test_the_revenue_view_shows_the_waterfall_its_csv_and_an_invoices_schedule(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway()
    invoice = await invoice_earned_over(gateway, months=3)
    start = month_start(0)
    browser, _ = await signed_in(gateway, "vera", "viewer")
    ops = await gateway.client_with(["ops:read", "invoices:read"])
    this_month, last = f"{start:%Y-%m}", f"{month_start(2):%Y-%m}"
    params = {"legal_entity": US, "from": this_month, "to": last}

    page = await browser.get("/console/revenue", params=params)
    assert page.status_code == 200, page.text
    api = (await ops.get("/ops/v1/revenue/waterfall", params=params)).json()
    shown = rows(page.text, "waterfall")
    expected = [
        [m["month"], m["currency"], str(m["billed"]), str(m["recognized"]), str(m["deferred"])]
        for m in api["months"]
    ]
    assert shown == expected
    assert shown[0][2] == str(3 * 4900)  # billed into deferred revenue this month
    assert shown[-1][4] == "0"  # all earned by the end of the service period
    assert 'id="deferred-usd"' in page.text

    csv_link = re.search(r'href="(/console/revenue/waterfall\.csv\?[^"]+)"', page.text)
    assert csv_link is not None
    csv = await browser.get(html.unescape(csv_link.group(1)))
    assert csv.headers["content-type"].startswith("text/csv")
    api_csv = await ops.get("/ops/v1/revenue/waterfall", params={**params, "format": "csv"})
    assert csv.text == api_csv.text

    link = f'href="/console/revenue/invoices/{invoice["id"]}"'
    assert link in page.text
    schedule = await browser.get(f"/console/revenue/invoices/{invoice['id']}")
    assert schedule.status_code == 200
    plan = (await ops.get(f"/v1/invoices/{invoice['id']}/revenue-schedule")).json()
    months = plan["schedules"][0]["months"]
    assert len(months) == 3
    for month in months:
        assert f"<tr><td>{month['month']}</td><td>{month['amount']}</td>" in schedule.text

    other = await browser.get("/console/revenue", params={**params, "legal_entity": DE})
    assert link not in other.text


async def test_the_revenue_view_refuses_bad_months_and_unknown_invoices(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway()
    browser, _ = await signed_in(gateway, "vera", "viewer")
    backwards = await browser.get(
        "/console/revenue", params={"legal_entity": US, "from": "2026-05", "to": "2026-01"}
    )
    assert backwards.status_code == 400
    assert backwards.json()["type"].endswith("/console-month-range")
    too_many = await browser.get(
        "/console/revenue/waterfall.csv",
        params={"legal_entity": US, "from": "1990-01", "to": "2026-01"},
    )
    assert too_many.json()["type"].endswith("/console-month-range")
    malformed = await browser.get("/console/revenue", params={"from": "2026-13"})
    assert malformed.json()["type"].endswith("/validation-error")
    missing = await browser.get("/console/revenue/invoices/inv_01jd0000000000000000000000")
    assert missing.status_code == 404
    unknown_entity = await browser.get(
        "/console/revenue", params={"legal_entity": "le_01jd0000000000000000000000"}
    )
    assert unknown_entity.status_code == 404
    signed_out = await gateway.anonymous.get(
        "/console/revenue/waterfall.csv", params={"legal_entity": US}
    )
    assert signed_out.status_code == 303


async def test_the_usage_view_shows_each_period_and_the_usage_differences(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway()
    metered = await metered_usage(gateway)
    meter = await gateway.client_with(["usage:read"])
    browser, csrf = await signed_in(gateway, "vera", "viewer")
    listed = await browser.get("/console/usage", params={"legal_entity": US})
    assert f'href="/console/usage/{metered.subscription_id}"' in listed.text
    elsewhere = await browser.get("/console/usage", params={"legal_entity": DE})
    assert metered.subscription_id not in elsewhere.text

    reconciled = await browser.post(
        "/console/reconciliation",
        data={"csrf_token": csrf, "period": f"{metered.anchor:%Y-%m}", "legal_entity": US},
    )
    assert reconciled.status_code == 303, reconciled.text
    page = await browser.get(f"/console/usage/{metered.subscription_id}")
    assert page.status_code == 200, page.text
    api = (await meter.get(f"/v1/subscriptions/{metered.subscription_id}/usage")).json()
    shown = rows(page.text, "usage")
    assert [row[4:7] for row in shown] == [
        [str(p["events"]), p["ingested"], p["reported"]] for p in api["periods"]
    ]
    assert shown[-1][4:6] == ["2", "7"]  # this period: two events, 7 units ingested
    assert shown[0][8:10] == ["3", "in_usage_test"]  # the closed period billing invoiced
    difference = re.search(r'href="(/console/reconciliation/rec_\w+/differences/\d+)"', page.text)
    assert difference is not None
    opened = await browser.get(difference.group(1))
    assert metered.subscription_id in opened.text
    assert "amount_mismatch" in opened.text
    missing = await browser.get("/console/usage/sub_01jd0000000000000000000000")
    assert missing.status_code == 404
