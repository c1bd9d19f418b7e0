"""The `/v1` (and `/v2/invoices`) lists: filters, keyset pages stable under inserts, the
page cap and their problems, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from app.seed import demo_id
from core.canonical.documents import CreditMemoStatus, SettlementStatus
from core.canonical.subscriptions import SubscriptionStatus
from core.errors import PROBLEM_BASE_URI
from core.ids import new_id
from core.models.base import Base
from core.models.credit_memo import CreditMemoRow
from core.models.payment import PaymentRow, PaymentSource, PaymentStatus
from core.models.settlement import SettlementRow
from core.models.subscription import SubscriptionRow
from tests.conftest import Gateway
from tests.support.invoices import ACME, INITECH, invoice_body

GLOBEX = demo_id("customer", 2)
US, DE = demo_id("legal_entity", 1), demo_id("legal_entity", 2)
NORTHWIND, FABRIKAM = demo_id("partner", 1), demo_id("partner", 2)
DAY = date.today() - timedelta(days=3)


async def register(gateway: Gateway, customer_id: str = ACME, **kwargs: Any) -> dict[str, Any]:
    currency = "EUR" if customer_id == INITECH else "USD"
    response = await gateway.client.post(
        "/v1/invoices",
        json=invoice_body(customer_id, currency=currency, **kwargs),
        headers={"Idempotency-Key": str(uuid4())},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def ids(client: httpx.AsyncClient, path: str, **params: Any) -> list[str]:
    """Every id the list at `path` returns, following its cursors."""
    found: list[str] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        found += [item["id"] for item in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            return found


async def insert(gateway: Gateway, *rows: Base) -> None:
    async with gateway.sessionmaker() as session:
        session.add_all(rows)
        await session.commit()


async def test_invoices_are_filtered_by_customer_entity_status_and_dates(gateway: Gateway) -> None:
    early = await register(gateway, invoice_date=DAY - timedelta(days=10))
    late = await register(gateway, invoice_date=DAY)
    initech = await register(gateway, INITECH, invoice_date=DAY)
    posted = await gateway.client.post(
        f"/v1/invoices/{late['id']}/postings", json={}, headers={"Idempotency-Key": "post-late"}
    )
    assert posted.status_code == 201, posted.text

    client = gateway.client
    assert await ids(client, "/v1/invoices") == [initech["id"], late["id"], early["id"]]
    assert await ids(client, "/v1/invoices", customer_id=ACME) == [late["id"], early["id"]]
    assert await ids(client, "/v1/invoices", legal_entity_id=DE) == [initech["id"]]
    assert await ids(client, "/v1/invoices", status="posted") == [late["id"]]
    assert await ids(client, "/v1/invoices", date_from=DAY.isoformat()) == [
        initech["id"],
        late["id"],
    ]
    assert await ids(client, "/v1/invoices", date_to=(DAY - timedelta(days=1)).isoformat()) == [
        early["id"]
    ]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert await ids(client, "/v1/invoices", updated_since=future) == []
    # the v2 list is the same page with money as objects
    v2 = (await client.get("/v2/invoices", params={"customer_id": ACME, "limit": 1})).json()
    assert [item["id"] for item in v2["items"]] == [late["id"]]
    assert v2["items"][0]["totals"]["total"] == {"amount": late["total"], "currency": "USD"}
    assert v2["items"][0]["last_run"]["status"] == "succeeded"


async def test_pages_stay_stable_while_invoices_are_inserted(gateway: Gateway) -> None:
    before = [(await register(gateway))["id"] for _ in range(5)]
    client = gateway.client
    first = (await client.get("/v1/invoices", params={"limit": 2})).json()
    inserted = await register(gateway)
    seen = [item["id"] for item in first["items"]]
    cursor = first["next_cursor"]
    while cursor is not None:
        page = (await client.get("/v1/invoices", params={"limit": 2, "cursor": cursor})).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
    assert seen == list(reversed(before))
    assert inserted["id"] not in seen


@pytest.mark.parametrize(
    "path",
    [
        "/v1/customers",
        "/v1/subscriptions",
        "/v1/invoices",
        "/v2/invoices",
        "/v1/credit-memos",
        "/v1/payments",
        "/v1/settlements",
    ],
)
async def test_every_list_caps_its_pages_and_refuses_bad_cursors_and_ranges(
    gateway: Gateway, path: str
) -> None:
    scopes = ["customers:read", "subscriptions:read", "invoices:read", "credit_memos:read"]
    client = await gateway.client_with([*scopes, "settlements:read"])
    too_many = await client.get(path, params={"limit": 201})
    assert too_many.status_code == 422
    bad_cursor = await client.get(path, params={"cursor": "not a cursor!"})
    assert bad_cursor.status_code == 400
    assert bad_cursor.json()["type"] == PROBLEM_BASE_URI + "invalid-cursor"
    backwards = await client.get(path, params={"date_from": "2026-02-01", "date_to": "2026-01-31"})
    assert backwards.status_code == 422
    assert backwards.json()["type"] == PROBLEM_BASE_URI + "invalid-date-range"
    last_day = await client.get(path, params={"date_to": "9999-12-31"})
    assert last_day.status_code == 200
    unknown_status = await client.get(path, params={"status": "no-such-status"})
    assert unknown_status.status_code == 422
    await client.aclose()


async def test_customers_by_entity_partner_and_status(gateway: Gateway) -> None:
    client = gateway.client
    assert await ids(client, "/v1/customers", legal_entity_id=DE) == [INITECH]
    assert await ids(client, "/v1/customers", partner_id=NORTHWIND) == [ACME]
    assert set(await ids(client, "/v1/customers", status="active")) == {ACME, GLOBEX, INITECH}
    assert await ids(client, "/v1/customers", status="blocked") == []


async def test_subscriptions_by_customer_partner_entity_and_status(gateway: Gateway) -> None:
    def subscription(customer_id: str, status: SubscriptionStatus, partner: str | None) -> Any:
        return SubscriptionRow(
            id=new_id("subscription"),
            customer_id=customer_id,
            price_id=demo_id("price", 11 if customer_id != INITECH else 12),
            partner_id=partner,
            quantity=1,
            status=status,
        )

    acme = subscription(ACME, SubscriptionStatus.ACTIVE, NORTHWIND)
    initech = subscription(INITECH, SubscriptionStatus.CANCELED, FABRIKAM)
    await insert(gateway, acme, initech)
    client = gateway.client
    assert await ids(client, "/v1/subscriptions") == sorted([initech.id, acme.id], reverse=True)
    assert await ids(client, "/v1/subscriptions", customer_id=ACME) == [acme.id]
    assert await ids(client, "/v1/subscriptions", partner_id=FABRIKAM) == [initech.id]
    assert await ids(client, "/v1/subscriptions", legal_entity_id=US) == [acme.id]
    assert await ids(client, "/v1/subscriptions", status="canceled") == [initech.id]


async def test_credit_memos_payments_and_settlements_lists(gateway: Gateway) -> None:
    acme, initech = await register(gateway), await register(gateway, INITECH)
    memos = [
        CreditMemoRow(
            id=new_id("credit_memo"),
            invoice_id=invoice["id"],
            customer_id=invoice["customer_id"],
            legal_entity_id=invoice["legal_entity_id"],
            currency=invoice["currency"],
            amount=100,
            reason_code="SERVICE",
            status=status,
        )
        for invoice, status in (
            (acme, CreditMemoStatus.POSTED),
            (initech, CreditMemoStatus.REQUESTED),
        )
    ]
    payments = [
        PaymentRow(
            id=new_id("payment"),
            invoice_id=invoice["id"],
            customer_id=invoice["customer_id"],
            legal_entity_id=invoice["legal_entity_id"],
            currency=invoice["currency"],
            amount=500,
            paid_on=paid_on,
            source=PaymentSource.DIRECT,
            status=PaymentStatus.APPLIED,
        )
        for invoice, paid_on in ((acme, DAY - timedelta(days=40)), (initech, DAY))
    ]
    settlements = [
        SettlementRow(
            id=new_id("settlement"),
            partner_id=partner,
            legal_entity_id=entity,
            period_start=start,
            period_end=start + timedelta(days=27),
            currency=currency,
            total_commission=1000,
            status=status,
        )
        for partner, entity, currency, start, status in (
            (NORTHWIND, US, "USD", date(2026, 9, 1), SettlementStatus.POSTED),
            (FABRIKAM, DE, "EUR", date(2026, 10, 1), SettlementStatus.VOID),
        )
    ]
    await insert(gateway, *memos, *payments, *settlements)
    client = await gateway.client_with(["credit_memos:read", "invoices:read", "settlements:read"])

    assert await ids(client, "/v1/credit-memos", status="posted") == [memos[0].id]
    assert await ids(client, "/v1/credit-memos", invoice_id=initech["id"]) == [memos[1].id]
    assert await ids(client, "/v1/credit-memos", legal_entity_id=DE) == [memos[1].id]

    assert await ids(client, "/v1/payments", customer_id=ACME) == [payments[0].id]
    assert await ids(client, "/v1/payments", date_from=(DAY - timedelta(days=1)).isoformat()) == [
        payments[1].id
    ]
    page = (await client.get("/v1/payments", params={"invoice_id": acme["id"]})).json()
    assert page["items"][0]["amount"] == 500
    assert "commission_lines" not in page["items"][0]

    assert await ids(client, "/v1/settlements", partner_id=FABRIKAM) == [settlements[1].id]
    assert await ids(client, "/v1/settlements", status="posted") == [settlements[0].id]
    assert await ids(client, "/v1/settlements", date_from="2026-09-01", date_to="2026-09-30") == [
        settlements[0].id
    ]
    await client.aclose()
