"""Catalog drift, on both databases: the demo catalog reconciles clean once billing holds
it too, and each kind of drift between the gateway, the ERP and billing is reported
with its cause, per legal entity, in the run, its drill-down and the run list."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import update

from app.seed import demo_id
from core.models.price import PriceRow
from core.models.product import ProductRow
from process_apis.billing_inbox import BillingInbox
from sandboxes import stripe
from sandboxes.business_central.master_data import Item
from tests.conftest import Gateway
from tests.integration.test_billed_invoices import WEBHOOK_URL
from tests.integration.test_subscriptions import ENTERPRISE_USD, PRO_USD, billing, ordered
from tests.support.invoices import US_COMPANY

US_ENTITY, DE_ENTITY = demo_id("legal_entity", 1), demo_id("legal_entity", 2)
PRO, ENTERPRISE = demo_id("product", 1), demo_id("product", 2)


async def reconcile(gateway: Gateway, legal_entity: str) -> dict[str, Any]:
    client = await gateway.client_with(["ops:read"], client_id="recon")
    response = await client.get(
        "/ops/v1/reconciliation",
        params={"period": date.today().strftime("%Y-%m"), "legal_entity": legal_entity},
    )
    await client.aclose()
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def drift(body: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(d["object_type"], d["gateway_id"], d["cause"]) for d in body["catalog_differences"]}


async def both_ordered(gateway: Gateway) -> None:
    """Billing gets the two USD prices (and their products) on their first orders; their
    invoices reach the gateway as billing's events."""
    billing(gateway).webhook_endpoints.append(
        stripe.WebhookEndpoint(url=WEBHOOK_URL, secret="whsec_sandbox", app=gateway.app)
    )
    await ordered(gateway, "order-pro")
    await ordered(gateway, "order-ent", price_id=ENTERPRISE_USD)
    await BillingInbox(gateway.app.state.process).drain()


async def test_the_demo_catalog_reconciles_clean_on_every_side(gateway: Gateway) -> None:
    untouched = await reconcile(gateway, US_ENTITY)
    await both_ordered(gateway)

    us = await reconcile(gateway, US_ENTITY)
    de = await reconcile(gateway, DE_ENTITY)

    for body in (untouched, us, de):
        assert (body["catalog_difference_count"], body["catalog_differences"]) == (0, [])
        assert body["catalog_drift"] == []
        assert body["clean"] is True, body["differences"]
    totals = {t["document_type"]: t for t in us["catalog_totals"]}
    assert (totals["product"]["gateway_count"], totals["product"]["erp_count"]) == (2, 2)
    assert totals["product"]["billing_count"] == 2
    assert (totals["price"]["gateway_count"], totals["price"]["billing_count"]) == (2, 2)
    assert totals["price"]["gateway_total"] == totals["price"]["billing_total"] == 4900 + 19900
    assert {t["currency"] for t in de["catalog_totals"]} == {"EUR"}
    assert {t["document_type"] for t in us["totals"]} & {"product", "price"} == set()


async def add_product(
    gateway: Gateway, name: str, *, erp_item: str | None, active: bool = True
) -> str:
    product_id, price_id = f"prod_{name.lower()}", f"price_{name.lower()}"
    async with gateway.app.state.process.sessionmaker.begin() as session:
        session.add(
            ProductRow(
                id=product_id,
                name=name,
                tier="pro",
                tax_code="STANDARD",
                erp_ref=erp_item,
                active=active,
            )
        )
        await session.flush()
        session.add(
            PriceRow(
                id=price_id,
                product_id=product_id,
                currency="USD",
                unit_amount=1000,
                interval="month",
                active=active,
            )
        )
    return product_id


def drift_the_erp(gateway: Gateway) -> None:
    assert gateway.backends.erp_sandbox is not None
    book = gateway.backends.erp_sandbox.books[US_COMPANY]
    items = {item.number: item for item in book.items.values()}
    items["LG-PRO"].blocked = True
    items["LG-ENT"].unit_price = Decimal("209.00")
    items["LG-ENT"].display_name = "Enterprise"
    old = Item(
        id="5a1c0de0-0000-4000-8000-0000000000ff",
        number="LG-OLD",
        display_name="Legacy",
        unit_price=Decimal(10),
    )
    book.items[old.id] = old


async def drift_billing(gateway: Gateway) -> None:
    stripe = billing(gateway)
    by_reference = {p["metadata"]["ledgergate_id"]: p for p in stripe.prices.values()}
    pro_price, ent_price = by_reference[PRO_USD], by_reference[ENTERPRISE_USD]
    pro_price["unit_amount"] = 5900
    pro_price["recurring"]["interval"] = "year"
    ent_price["currency"] = "eur"
    ent_price["active"] = False
    products = {p["metadata"]["ledgergate_id"]: p for p in stripe.products.values()}
    products[PRO]["name"] = "Pro (renamed)"
    del stripe.products[products[ENTERPRISE]["id"]]
    async with gateway.app.state.process.sessionmaker.begin() as session:
        session.add(
            PriceRow(
                id="price_yearly",
                product_id=PRO,
                currency="USD",
                unit_amount=49000,
                interval="year",
                billing_ref="price_gone",
            )
        )


async def test_each_kind_of_catalog_drift_is_reported_with_its_cause(gateway: Gateway) -> None:
    await both_ordered(gateway)
    unmapped = await add_product(gateway, "Unmapped", erp_item=None)
    unknown = await add_product(gateway, "Unknown", erp_item="LG-NONE")
    retired = await add_product(gateway, "Legacy", erp_item="LG-OLD", active=False)
    drift_the_erp(gateway)
    await drift_billing(gateway)

    us = await reconcile(gateway, US_ENTITY)

    assert drift(us) == {
        ("product", unmapped, "no_erp_item"),
        ("product", unknown, "erp_item_not_found"),
        ("product", retired, "inactive_in_gateway"),
        ("product", PRO, "blocked_in_erp"),
        ("product", PRO, "name_differs"),
        ("product", ENTERPRISE, "unit_price_differs"),
        ("product", ENTERPRISE, "name_differs"),
        ("product", ENTERPRISE, "billing_product_not_found"),
        ("price", PRO_USD, "unit_price_differs"),
        ("price", PRO_USD, "interval_differs"),
        ("price", ENTERPRISE_USD, "currency_differs"),
        ("price", ENTERPRISE_USD, "inactive_in_billing"),
        ("price", "price_yearly", "billing_price_not_found"),
    }
    assert us["clean"] is False
    assert (us["difference_count"], us["catalog_difference_count"]) == (0, 13)
    by_cause = {(d["gateway_id"], d["cause"]): d for d in us["catalog_differences"]}
    ent_price = by_cause[ENTERPRISE, "unit_price_differs"]
    assert (ent_price["gateway_amount"], ent_price["erp_amount"], ent_price["erp_item"]) == (
        19900,
        20900,
        "LG-ENT",
    )
    renamed = by_cause[PRO, "name_differs"]
    assert (renamed["gateway_value"], renamed["billing_value"]) == (
        "Ledgergate Pro",
        "Pro (renamed)",
    )
    assert by_cause[PRO_USD, "unit_price_differs"]["billing_amount"] == 5900
    assert by_cause[ENTERPRISE_USD, "currency_differs"]["billing_value"] == "EUR"
    counts = {(c["object_type"], c["cause"]): c["count"] for c in us["catalog_drift"]}
    assert counts["product", "name_differs"] == 2
    assert sum(counts.values()) == 13

    # the same products in the other legal entity: only what billing holds per product drifts
    de = await reconcile(gateway, DE_ENTITY)
    assert drift(de) == {
        ("product", PRO, "name_differs"),
        ("product", ENTERPRISE, "billing_product_not_found"),
    }

    ops = await gateway.client_with(["ops:read"], client_id="recon-reader")
    kept = await ops.get(f"/ops/v1/reconciliation/runs/{us['id']}", params={"limit": 2})
    runs = await ops.get("/ops/v1/reconciliation/runs", params={"legal_entity": US_ENTITY})
    await ops.aclose()
    assert kept.status_code == 200, kept.text
    assert kept.json()["catalog_difference_count"] == 13
    assert kept.json()["catalog_differences"] == us["catalog_differences"][:2]
    assert kept.json()["catalog_drift"] == us["catalog_drift"]
    assert runs.json()[0]["catalog_difference_count"] == 13


async def test_a_price_billing_never_got_is_not_drift(gateway: Gateway) -> None:
    async with gateway.app.state.process.sessionmaker.begin() as session:
        await session.execute(
            update(PriceRow).where(PriceRow.id == PRO_USD).values(unit_amount=5000)
        )
    body = await reconcile(gateway, US_ENTITY)
    # the ERP item still says 49.00: that is drift; billing was never given the price
    assert drift(body) == {("product", PRO, "unit_price_differs")}
