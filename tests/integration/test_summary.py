"""The ops business summary: ratios per workflow, latencies, the queue by class; and the
latency histograms recorded where the events happen."""

from datetime import UTC, date, datetime

from prometheus_client import REGISTRY

from app.seed import demo_id
from core.models.invoice import InvoiceRow
from core.models.subscription import SubscriptionRow
from process_apis.settlements.workflow import cycle_seconds
from tests.conftest import Gateway
from tests.support.calendar import months_later
from tests.support.invoices import ACME, invoice_body, last_month

GLOBEX = demo_id("customer", 2)
PRO, PRO_USD = demo_id("product", 1), demo_id("price", 11)

PERIOD = date.today().strftime("%Y-%m")


async def test_the_summary_counts_runs_ratios_latency_and_the_queue(gateway: Gateway) -> None:
    for key in ("s-1", "s-2"):
        invoice_id = (await gateway.client.post("/v1/invoices", json=invoice_body())).json()["id"]
        await gateway.client.post(
            f"/v1/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": key}
        )
    closed = (
        await gateway.client.post("/v1/invoices", json=invoice_body(invoice_date=last_month()))
    ).json()["id"]
    await gateway.client.post(
        f"/v1/invoices/{closed}/postings", json={}, headers={"Idempotency-Key": "s-3"}
    )
    ops = await gateway.client_with(["ops:read"], client_id="summary")
    body = (await ops.get("/ops/v1/summary", params={"period": PERIOD})).json()
    await ops.aclose()
    [posting] = body["workflows"]
    assert (posting["workflow"], posting["runs"], posting["succeeded"]) == ("invoice_posting", 3, 2)
    assert posting["straight_through"] == 2
    assert posting["success_ratio"] == round(2 / 3, 4)
    assert body["invoices_posted"] == 2
    assert body["invoice_to_posting_seconds_avg"] >= 0
    [queued] = body["queue"]
    assert (queued["error_class"], queued["depth"]) == ("business", 1)
    assert queued["oldest_age_seconds"] >= 0


async def test_a_saas_client_cannot_read_the_summary(gateway: Gateway) -> None:
    assert (
        await gateway.client.get("/ops/v1/summary", params={"period": PERIOD})
    ).status_code == 403


def histogram_count(name: str) -> float:
    return REGISTRY.get_sample_value(f"{name}_count") or 0.0


async def test_order_to_invoice_and_settlement_cycle_time(gateway: Gateway) -> None:
    invoiced_before = histogram_count("ledgergate_order_to_invoice_seconds")
    cycles_before = histogram_count("ledgergate_settlement_cycle_seconds")
    ordered = await gateway.client.post(
        "/v1/subscriptions",
        json={"customer_id": ACME, "price_id": PRO_USD, "quantity": 3},
        headers={"Idempotency-Key": "order"},
    )
    assert ordered.status_code == 201, ordered.text
    subscription = ordered.json()["subscription"]
    body = invoice_body()
    body["subscription_id"] = subscription["id"]
    body["lines"][0]["product_id"] = PRO
    invoices = []
    for key in ("first", "second"):  # only the first invoice ends the order's wait
        created = await gateway.client.post("/v1/invoices", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["subscription_id"] == subscription["id"]
        invoice = created.json()
        invoices.append(invoice["id"])
        posted = await gateway.client.post(
            f"/v1/invoices/{invoice['id']}/postings", json={}, headers={"Idempotency-Key": key}
        )
        assert posted.status_code == 201, posted.text
    assert histogram_count("ledgergate_order_to_invoice_seconds") == invoiced_before + 1
    paid = await gateway.client.post(
        f"/v1/invoices/{invoice['id']}/payments",
        json={"amount": invoice["total"], "currency": "USD"},
        headers={"Idempotency-Key": "pay"},
    )
    assert paid.status_code == 201, paid.text
    finance = await gateway.client_with(["settlements:write"], client_id="finance")
    months_later(gateway.app)
    run = await finance.post(
        "/v1/settlement-runs", json={"period": PERIOD}, headers={"Idempotency-Key": "stl"}
    )
    await finance.aclose()
    assert [s["status"] for s in run.json()["settlements"]] == ["posted"]
    assert histogram_count("ledgergate_settlement_cycle_seconds") == cycles_before + 1

    ops = await gateway.client_with(["ops:read"], client_id="summary")
    summary = (await ops.get("/ops/v1/summary", params={"period": PERIOD})).json()
    await ops.aclose()
    assert summary["subscriptions_invoiced"] == 1
    async with gateway.sessionmaker() as session:
        ordered_at = (await session.get_one(SubscriptionRow, subscription["id"])).created_at
        first_invoiced_at = (await session.get_one(InvoiceRow, invoices[0])).created_at
    expected = round((first_invoiced_at - ordered_at).total_seconds(), 3)
    assert summary["order_to_invoice_seconds_avg"] == expected > 0
    # this month's statement, posted before the month closed: no wait after the close
    assert (summary["settlements_posted"], summary["settlement_cycle_seconds_avg"]) == (1, 0.0)


def test_settlement_cycle_time_runs_from_the_close_of_the_period() -> None:
    posted_at = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
    assert cycle_seconds(date(2026, 11, 30), posted_at) == (2 * 24 + 6) * 3600
    assert cycle_seconds(date(2026, 12, 31), posted_at) == 0


async def test_an_invoice_names_a_subscription_of_its_own_customer(gateway: Gateway) -> None:
    ordered = await gateway.client.post(
        "/v1/subscriptions",
        json={"customer_id": ACME, "price_id": PRO_USD, "quantity": 1},
        headers={"Idempotency-Key": "order"},
    )
    body = invoice_body(GLOBEX)
    body["subscription_id"] = ordered.json()["subscription"]["id"]
    refused = await gateway.client.post("/v1/invoices", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"].endswith("/unknown-reference")
    assert refused.json()["pointer"] == "#/subscription_id"
