"""The partner portal (`/partner/v1`) on SQLite and PostgreSQL.

Both demo partners get one object of every kind through the process APIs (an order,
a posted and paid invoice, its commissions, a settlement run, the CRM's deal
registration); then every partner route is read with each partner's token: its own
objects answer, the other partner's are not found (404, never 403) and never appear
in a list. The routes are taken from the app, so a new partner route without a
sample path here fails `test_every_partner_route_has_a_sample`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from app.governance.openapi import operations
from app.main import create_app
from app.seed import demo_id
from core.canonical.documents import SettlementStatus
from core.errors import PROBLEM_BASE_URI
from core.ids import new_id
from core.models.settlement import SettlementRow
from core.settings import Settings
from tests.conftest import Gateway
from tests.integration.test_credit_memos import (
    credit_body,
    erp_remaining,
    open_case,
    posted_invoice,
    request_credit,
)
from tests.integration.test_settlements import pay, product_invoice, run_settlements
from tests.support.calendar import months_later
from tests.support.invoices import ACME, INITECH

NORTHWIND, FABRIKAM = demo_id("partner", 1), demo_id("partner", 2)
PRO_USD, PRO_EUR = demo_id("price", 11), demo_id("price", 12)
TODAY = date.today()
THIS_MONTH = TODAY.strftime("%Y-%m")
LAST_MONTH_DAY = TODAY.replace(day=1) - timedelta(days=1)
LAST_MONTH = LAST_MONTH_DAY.strftime("%Y-%m")
SETTLER = ["settlements:write", "settlements:read", "invoices:read"]

# Every GET route of the partner API and the path of one object of a partner in it,
# filled from that partner's ids (`Owned.ids`).
SAMPLES = {
    "/partner/v1/customers": "/partner/v1/customers",
    "/partner/v1/customers/{customer_id}": "/partner/v1/customers/{customer_id}",
    "/partner/v1/subscriptions": "/partner/v1/subscriptions",
    "/partner/v1/subscriptions/{subscription_id}": "/partner/v1/subscriptions/{subscription_id}",
    "/partner/v1/invoices": "/partner/v1/invoices",
    "/partner/v1/invoices/{invoice_id}": "/partner/v1/invoices/{invoice_id}",
    "/partner/v1/commission-lines": "/partner/v1/commission-lines",
    "/partner/v1/commission-lines/{commission_line_id}": (
        "/partner/v1/commission-lines/{commission_line_id}"
    ),
    "/partner/v1/statements": "/partner/v1/statements",
    "/partner/v1/statements/{period}": "/partner/v1/statements/{period}",
    "/partner/v1/deal-registrations": "/partner/v1/deal-registrations",
    "/partner/v1/deal-registrations/{registration_id}": (
        "/partner/v1/deal-registrations/{registration_id}"
    ),
}


# The partner's webhook endpoints are its own to manage (writes included); their isolation
# between partners is tested with them, in tests/integration/test_webhooks.py.
WEBHOOK_ENDPOINTS = "/partner/v1/webhook-endpoints"


def partner_operations() -> list[tuple[str, str]]:
    """(method, path) of every portal operation the app serves (its OpenAPI document)."""
    app = create_app(Settings(_env_file=None, environment="test"))  # type: ignore[call-arg]
    return sorted(
        (method.upper(), path)
        for path, method, _ in operations(app.openapi())
        if path.startswith("/partner/") and not path.startswith(WEBHOOK_ENDPOINTS)
    )


OPERATIONS = partner_operations()
ROUTES = sorted({path for _, path in OPERATIONS})
LISTS = [path for path in ROUTES if not path.endswith("}")]


@dataclass
class Owned:
    """One partner's objects: the ids its routes take, and every id that marks them."""

    ids: dict[str, str]
    markers: set[str]

    def path(self, template: str) -> str:
        return SAMPLES[template].format(**self.ids)


def test_the_partner_api_is_enumerated() -> None:
    assert set(ROUTES) == set(SAMPLES)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_every_partner_route_has_a_sample(method: str, path: str) -> None:
    """Reads only (the portal writes nothing), each covered by the isolation test below."""
    assert method == "GET"
    assert path in SAMPLES, f"add {path} to SAMPLES"


async def partner_client(gateway: Gateway, partner: str) -> httpx.AsyncClient:
    return await gateway.client_with(
        ["partner:read"], client_id=f"portal-{partner[-2:]}", partner_id=partner
    )


async def order(gateway: Gateway, customer_id: str, price_id: str) -> dict[str, Any]:
    response = await gateway.client.post(
        "/v1/subscriptions",
        json={"customer_id": customer_id, "price_id": price_id, "quantity": 2},
        headers={"Idempotency-Key": f"order-{customer_id}"},
    )
    assert response.status_code == 201, response.text
    subscription: dict[str, Any] = response.json()["subscription"]
    return subscription


async def paid_invoice(
    gateway: Gateway, customer_id: str, currency: str, paid_on: date
) -> tuple[dict[str, Any], dict[str, Any]]:
    invoice = await posted_invoice(gateway, product_invoice(customer_id, currency))
    response = await pay(
        gateway, invoice, invoice["total"], f"pay-{invoice['id']}", paid_on=paid_on.isoformat()
    )
    assert response.status_code == 201, response.text
    return invoice, response.json()


async def estate(gateway: Gateway) -> dict[str, Owned]:
    """Northwind (Acme, USD) settled this month; Fabrikam (Initech, EUR) last month."""
    owned = {}
    months_later(gateway.app)
    for partner, customer, price, currency, paid_on in (
        (FABRIKAM, INITECH, PRO_EUR, "EUR", LAST_MONTH_DAY),
        (NORTHWIND, ACME, PRO_USD, "USD", TODAY),
    ):
        subscription = await order(gateway, customer, price)
        invoice, payment = await paid_invoice(gateway, customer, currency, paid_on)
        settler = await gateway.client_with(SETTLER, client_id="finance-settler")
        period = paid_on.strftime("%Y-%m")
        run = await run_settlements(settler, f"settle-{period}", period)
        await settler.aclose()
        assert run.status_code == 201, run.text
        settlements = [s for s in run.json()["settlements"] if s["partner_id"] == partner]
        registrations = await gateway.backends.crm.list_deal_registrations(partner_id=partner)
        lines = [line["id"] for line in payment["commission_lines"]]
        ids = {
            "customer_id": customer,
            "subscription_id": subscription["id"],
            "invoice_id": invoice["id"],
            "commission_line_id": lines[0],
            "period": period,
            "registration_id": registrations[0].id,
        }
        markers = {
            *ids.values(),
            *lines,
            payment["id"],
            *(s["id"] for s in settlements),
            *(r.id for r in registrations),
        } - {period}
        owned[partner] = Owned(ids, markers)
    return owned


async def test_a_partner_reads_all_of_its_own_objects_and_none_of_another(
    gateway: Gateway,
) -> None:
    owned = await estate(gateway)
    clients = {partner: await partner_client(gateway, partner) for partner in owned}
    for partner, other in ((NORTHWIND, FABRIKAM), (FABRIKAM, NORTHWIND)):
        client, mine, theirs = clients[partner], owned[partner], owned[other]
        for route in ROUTES:
            own = await client.get(mine.path(route))
            assert own.status_code == 200, (partner, route, own.text)
            assert any(marker in own.text for marker in mine.markers), (partner, route)
            leaked = {marker for marker in theirs.markers if marker in own.text}
            assert not leaked, (partner, route, leaked)
            if route in LISTS:
                continue
            response = await client.get(theirs.path(route))
            assert response.status_code == 404, (partner, route, response.text)
            assert response.json()["type"] == PROBLEM_BASE_URI + "not-found"
    for client in clients.values():
        await client.aclose()


async def test_invoices_show_the_payments_recorded_against_them(gateway: Gateway) -> None:
    full, _ = await paid_invoice(gateway, ACME, "USD", TODAY)
    part = await posted_invoice(gateway, product_invoice(seats=2))
    assert (await pay(gateway, part, 1000, "part")).status_code == 201
    unpaid = await posted_invoice(gateway, product_invoice(seats=3))
    northwind = await partner_client(gateway, NORTHWIND)
    seen = {
        i["id"]: i["payment"] for i in (await northwind.get("/partner/v1/invoices")).json()["items"]
    }
    assert seen[full["id"]]["status"] == "paid"
    assert (seen[full["id"]]["amount_paid"], seen[full["id"]]["amount_due"]) == (full["total"], 0)
    assert seen[part["id"]]["status"] == "partially_paid"
    assert seen[part["id"]]["amount_due"] == part["total"] - 1000
    assert [p["amount"] for p in seen[part["id"]]["payments"]] == [1000]
    assert seen[part["id"]]["payments"][0]["status"] == "applied"
    assert seen[unpaid["id"]] == {
        "status": "unpaid",
        "amount_paid": 0,
        "amount_pending": 0,
        "amount_credited": 0,
        "amount_credit_applied": 0,
        "amount_due": unpaid["total"],
        "payments": [],
    }
    one = (await northwind.get(f"/partner/v1/invoices/{part['id']}")).json()
    assert one["payment"] == seen[part["id"]]
    paid = await northwind.get("/partner/v1/invoices", params={"status": "paid"})
    assert [i["id"] for i in paid.json()["items"]] == [full["id"]]
    await northwind.aclose()


async def test_commission_lines_carry_their_lineage_to_the_statement(gateway: Gateway) -> None:
    owned = await estate(gateway)
    unsettled_invoice, unsettled = await paid_invoice(gateway, ACME, "USD", TODAY)
    northwind = await partner_client(gateway, NORTHWIND)
    lines = (await northwind.get("/partner/v1/commission-lines")).json()["items"]
    by_status = {line["id"]: line["status"] for line in lines}
    for line in unsettled["commission_lines"]:
        assert by_status[line["id"]] == "unsettled"
    settled = [line for line in lines if line["status"] == "settled"]
    assert len(settled) == 2
    assert len(lines) == 4
    for line in settled:
        assert line["statement_period"] == THIS_MONTH
        lineage = line["lineage"]
        assert lineage["payment"]["erp_document_number"]
        assert lineage["invoice_line"]["invoice_id"] == owned[NORTHWIND].ids["invoice_id"]
        assert lineage["attribution"] == {
            "partner_id": NORTHWIND,
            "customer_id": ACME,
            "deal_registration_id": owned[NORTHWIND].ids["registration_id"],
            "eligibility_reason": "eligible",
        }
        assert (lineage["rate_card"]["plan_code"], lineage["rate_card"]["version"]) == (
            "reseller-20",
            1,
        )
        assert lineage["commission"]["amount"] == line["commission_amount"]
        assert lineage["statement"]["settlement_id"] in owned[NORTHWIND].markers
        assert lineage["statement"]["journal_document_number"]
    fresh = next(line for line in lines if line["status"] == "unsettled")
    assert fresh["lineage"]["statement"] is None
    assert fresh["lineage"]["invoice_line"]["invoice_id"] == unsettled_invoice["id"]
    one = await northwind.get(f"/partner/v1/commission-lines/{settled[0]['id']}")
    assert one.json() == settled[0]
    await northwind.aclose()


async def test_lists_filter(gateway: Gateway) -> None:
    owned = await estate(gateway)
    await paid_invoice(gateway, INITECH, "EUR", TODAY)  # Fabrikam: an unsettled line this month
    fabrikam = await partner_client(gateway, FABRIKAM)

    async def ids(path: str, **params: str) -> list[str]:
        response = await fabrikam.get(path, params=params)
        assert response.status_code == 200, response.text
        return [item.get("id", item.get("period")) for item in response.json()["items"]]

    mine = owned[FABRIKAM].ids
    assert await ids("/partner/v1/subscriptions", status="active") == [mine["subscription_id"]]
    assert await ids("/partner/v1/subscriptions", status="canceled") == []
    assert await ids("/partner/v1/subscriptions", customer_id=ACME) == []
    assert await ids("/partner/v1/subscriptions", customer_id=INITECH) == [mine["subscription_id"]]
    assert len(await ids("/partner/v1/invoices", customer_id=INITECH)) == 2
    assert await ids("/partner/v1/invoices", customer_id=ACME) == []
    assert await ids("/partner/v1/customers", status="active") == [INITECH]
    last_month = await ids("/partner/v1/commission-lines", period=LAST_MONTH)
    this_month = await ids("/partner/v1/commission-lines", period=THIS_MONTH)
    assert mine["commission_line_id"] in last_month
    assert len(last_month) == 2
    assert len(this_month) == 2
    assert not set(this_month) & set(last_month)
    assert set(await ids("/partner/v1/commission-lines", status="settled")) == set(last_month)
    assert set(await ids("/partner/v1/commission-lines", status="unsettled")) == set(this_month)
    assert await ids("/partner/v1/commission-lines", status="ineligible") == []
    assert len(await ids("/partner/v1/commission-lines", currency="EUR")) == 4
    assert await ids("/partner/v1/commission-lines", currency="USD") == []
    assert await ids("/partner/v1/statements") == [LAST_MONTH]
    assert await ids("/partner/v1/statements", currency="USD") == []
    assert await ids("/partner/v1/statements", status="posted") == [LAST_MONTH]
    assert await ids("/partner/v1/statements", status="draft") == []
    assert await ids("/partner/v1/deal-registrations", status="approved") == [
        mine["registration_id"]
    ]
    assert await ids("/partner/v1/deal-registrations", status="pending") == []
    assert await ids("/partner/v1/deal-registrations", customer_id=ACME) == []
    bad = await fabrikam.get("/partner/v1/commission-lines", params={"period": "2026-13"})
    assert bad.status_code == 422
    await fabrikam.aclose()


async def test_a_statement_totals_its_settlements_by_currency(gateway: Gateway) -> None:
    owned = await estate(gateway)
    northwind = await partner_client(gateway, NORTHWIND)
    statement = (await northwind.get(f"/partner/v1/statements/{THIS_MONTH}")).json()
    lines = (await northwind.get("/partner/v1/commission-lines")).json()["items"]
    assert statement["status"] == "posted"
    assert statement["period_start"] == TODAY.replace(day=1).isoformat()
    assert statement["totals"] == [
        {
            "currency": "USD",
            "total_commission": sum(line["commission_amount"] for line in lines),
            "line_count": len(lines),
        }
    ]
    [settlement] = statement["settlements"]
    assert settlement["id"] in owned[NORTHWIND].markers
    assert settlement["journal_document_number"]
    listed = (await northwind.get("/partner/v1/statements")).json()
    assert listed == {"items": [statement], "next_cursor": None}
    await northwind.aclose()


async def test_statements_answer_304_while_their_etag_holds(gateway: Gateway) -> None:
    await estate(gateway)
    northwind = await partner_client(gateway, NORTHWIND)
    path = f"/partner/v1/statements/{THIS_MONTH}"
    first = await northwind.get(path)
    tag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', tag)  # strong
    assert first.headers["cache-control"] == "private, no-cache"
    again = await northwind.get(path)
    assert again.headers["etag"] == tag
    for header in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        unchanged = await northwind.get(path, headers={"If-None-Match": header})
        assert unchanged.status_code == 304, header
        assert unchanged.content == b""
        assert unchanged.headers["etag"] == tag
    stale = await northwind.get(path, headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200
    assert stale.json() == first.json()
    listed = await northwind.get("/partner/v1/statements")
    list_tag = listed.headers["etag"]
    assert list_tag != tag
    listed_again = await northwind.get(
        "/partner/v1/statements", headers={"If-None-Match": list_tag}
    )
    assert listed_again.status_code == 304
    # The statement is paid: a new representation, a new tag, the old one no longer matches.
    async with gateway.sessionmaker() as session:
        await session.execute(
            update(SettlementRow)
            .where(SettlementRow.partner_id == NORTHWIND)
            .values(status=SettlementStatus.PAID, version=SettlementRow.version + 1)
        )
        await session.commit()
    changed = await northwind.get(path, headers={"If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.json()["status"] == "paid"
    assert changed.headers["etag"] != tag
    relisted = await northwind.get("/partner/v1/statements", headers={"If-None-Match": list_tag})
    assert relisted.status_code == 200
    # Another partner's token never matches this partner's representation.
    fabrikam = await partner_client(gateway, FABRIKAM)
    assert (await fabrikam.get(path, headers={"If-None-Match": "*"})).status_code == 404
    await northwind.aclose()
    await fabrikam.aclose()


async def test_pages_stay_stable_while_lines_are_inserted(gateway: Gateway) -> None:
    """Following cursors while new lines arrive: no line twice, none of the first ones missed."""
    owned = await estate(gateway)
    northwind = await partner_client(gateway, NORTHWIND)
    invoices = [await paid_invoice(gateway, ACME, "USD", TODAY) for _ in range(3)]
    before = [
        line["id"]
        for line in (
            await northwind.get("/partner/v1/commission-lines", params={"limit": 200})
        ).json()["items"]
    ]
    assert len(before) == 2 + 2 * len(invoices)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await northwind.get("/partner/v1/commission-lines", params=params)).json()
        seen += [line["id"] for line in page["items"]]
        # a new payment (newer ids) lands between every two pages
        invoice = await posted_invoice(gateway, product_invoice())
        assert (
            await pay(gateway, invoice, invoice["total"], f"late-{len(seen)}")
        ).status_code == 201
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == before  # newest first, each exactly once, none of the later ones
    assert owned[NORTHWIND].ids["commission_line_id"] in seen
    await northwind.aclose()


@pytest.mark.parametrize("path", LISTS)
async def test_page_sizes_are_capped(gateway: Gateway, path: str) -> None:
    northwind = await partner_client(gateway, NORTHWIND)
    response = await northwind.get(path, params={"limit": 201})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == PROBLEM_BASE_URI + "validation-error"
    assert (await northwind.get(path, params={"limit": 200})).status_code == 200
    bad_cursor = await northwind.get(path, params={"cursor": "!!"})
    assert bad_cursor.status_code == 400
    assert bad_cursor.json()["type"] == PROBLEM_BASE_URI + "invalid-cursor"
    await northwind.aclose()


async def test_statement_cursors_are_months(gateway: Gateway) -> None:
    """Paging statements one month at a time, and a cursor that is not a month refused."""
    await estate(gateway)
    async with gateway.sessionmaker() as session:
        template = await session.scalar(
            select(SettlementRow).where(SettlementRow.partner_id == FABRIKAM)
        )
        assert template is not None
        for months_back in (2, 3):
            start = (TODAY.replace(day=1) - timedelta(days=31 * months_back)).replace(day=1)
            session.add(
                SettlementRow(
                    **{
                        c.key: getattr(template, c.key)
                        for c in SettlementRow.__table__.columns
                        if c.key not in ("id", "period_start", "period_end", "version")
                    },
                    id=new_id("settlement"),
                    period_start=start,
                    period_end=start + timedelta(days=27),
                )
            )
        await session.commit()
    fabrikam = await partner_client(gateway, FABRIKAM)
    periods, cursor = [], None
    while True:
        params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = (await fabrikam.get("/partner/v1/statements", params=params)).json()
        periods += [s["period"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(periods) == 3
    assert periods == sorted(periods, reverse=True)
    assert periods[0] == LAST_MONTH
    not_a_month = "MjAyNi0xMy0wMQ"  # base64url of "2026-13-01"
    refused = await fabrikam.get("/partner/v1/statements", params={"cursor": not_a_month})
    assert refused.status_code == 400
    await fabrikam.aclose()


async def test_amount_due_accounts_for_posted_credit_memos(gateway: Gateway) -> None:
    invoice = await posted_invoice(gateway, product_invoice(ACME, "USD"))
    case_id = await open_case(gateway)
    credit = await request_credit(gateway.client, credit_body(invoice["id"], case_id, 5000), "c1")
    assert credit.status_code == 201, credit.text
    credited = credit.json()["erp_total_including_tax"]
    assert credited == 5444
    client = await partner_client(gateway, NORTHWIND)
    seen = (await client.get(f"/partner/v1/invoices/{invoice['id']}")).json()["payment"]
    assert seen["amount_credited"] == credited
    assert seen["amount_due"] == invoice["total"] - credited
    assert seen["amount_due"] == await erp_remaining(gateway, invoice)
    await client.aclose()


async def test_a_partner_never_sees_a_refused_order_of_a_customer_not_its_own(
    gateway: Gateway,
) -> None:
    refused = await gateway.client.post(
        "/v1/subscriptions",
        json={"customer_id": ACME, "price_id": PRO_USD, "quantity": 1, "partner_id": FABRIKAM},
        headers={"Idempotency-Key": "order-claimed-by-fabrikam"},
    )
    assert refused.status_code == 422, refused.text
    subscription_id = refused.json()["subscription_id"]
    client = await partner_client(gateway, FABRIKAM)
    listed = (await client.get("/partner/v1/subscriptions")).json()["items"]
    assert subscription_id not in {s["id"] for s in listed}
    single = await client.get(f"/partner/v1/subscriptions/{subscription_id}")
    assert single.status_code == 404
    await client.aclose()
