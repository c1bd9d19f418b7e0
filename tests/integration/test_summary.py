"""The ops business summary: ratios per workflow, posting latency, the queue by class."""

from datetime import date

from tests.conftest import Gateway
from tests.support.invoices import invoice_body, last_month

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
