"""The Stripe sandbox's metered prices and usage records, on a fixed clock, and the
adapter's `report_usage` on the wire (`action=set`, the caller's key)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from sandboxes.stripe import ManualClock, StripeState
from system_apis.billing.adapters.stripe import StripeAdapter
from system_apis.billing.mapping import encode_form
from system_apis.billing.schemas import BillingUsageReport
from system_apis.errors import BackendBusinessError
from tests.support.recording import RecordingTransport
from tests.support.stripe_sandbox import DAY, JAN_1_2021, create_customer, post

FEB_1_2021 = JAN_1_2021 + 31 * DAY


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(JAN_1_2021)


@pytest.fixture
def stripe_state(clock: ManualClock) -> StripeState:
    return StripeState(clock=clock)


async def metered_subscription(
    http: httpx.AsyncClient, aggregate_usage: str = "sum"
) -> tuple[dict[str, Any], str]:
    """A subscription with a licensed item (10.00 a month) and a metered one (0.02 a unit)."""
    customer = await create_customer(http)
    product = await post(http, "/v1/products", {"name": "Ledgergate Pro"})
    flat = await post(
        http,
        "/v1/prices",
        {
            "product": product["id"],
            "currency": "usd",
            "unit_amount": 1000,
            "recurring": {"interval": "month"},
        },
    )
    metered = await post(
        http,
        "/v1/prices",
        {
            "product": product["id"],
            "currency": "usd",
            "unit_amount": 2,
            "recurring": {
                "interval": "month",
                "usage_type": "metered",
                "aggregate_usage": aggregate_usage,
            },
        },
    )
    subscription = await post(
        http,
        "/v1/subscriptions",
        {
            "customer": customer["id"],
            "items": [{"price": flat["id"], "quantity": 1}, {"price": metered["id"]}],
        },
    )
    [item] = [i for i in subscription["items"]["data"] if i["price"]["id"] == metered["id"]]
    assert "quantity" not in item
    return subscription, item["id"]


async def usage(http: httpx.AsyncClient, item_id: str, **params: Any) -> httpx.Response:
    return await http.post(
        f"/v1/subscription_items/{item_id}/usage_records", data=encode_form(params)
    )


@pytest.mark.parametrize(
    ("aggregate_usage", "billed"), [("sum", 12), ("max", 7), ("last_during_period", 5)]
)
async def test_the_renewal_invoice_bills_the_period_usage_in_arrears(
    http: httpx.AsyncClient,
    stripe_state: StripeState,
    clock: ManualClock,
    aggregate_usage: str,
    billed: int,
) -> None:
    subscription, item_id = await metered_subscription(http, aggregate_usage)
    first = stripe_state.invoices[subscription["latest_invoice"]]
    assert [line["amount"] for line in first["lines"]["data"]] == [1000]  # usage: not in advance
    clock.advance(3 * DAY)
    for at, quantity in ((JAN_1_2021 + DAY, 7), (JAN_1_2021 + 2 * DAY, 5)):
        assert (await usage(http, item_id, quantity=quantity, timestamp=at)).status_code == 200
    clock.advance(28 * DAY + 60)
    await http.get(f"/v1/subscriptions/{subscription['id']}")  # the clock renews it
    renewal = stripe_state.invoices[
        stripe_state.subscriptions[subscription["id"]]["latest_invoice"]
    ]
    lines = {line["price"]["recurring"]["usage_type"]: line for line in renewal["lines"]["data"]}
    assert (lines["metered"]["quantity"], lines["metered"]["amount"]) == (billed, billed * 2)
    assert lines["metered"]["period"] == {"start": JAN_1_2021, "end": FEB_1_2021}
    assert lines["licensed"]["period"]["start"] == FEB_1_2021


async def test_set_replaces_the_record_at_its_timestamp_and_increment_adds(
    http: httpx.AsyncClient, stripe_state: StripeState, clock: ManualClock
) -> None:
    _, item_id = await metered_subscription(http)
    clock.advance(3 * DAY)
    at = JAN_1_2021 + DAY
    await usage(http, item_id, quantity=4, timestamp=at)
    added = (await usage(http, item_id, quantity=3, timestamp=at)).json()
    replaced = (await usage(http, item_id, quantity=9, timestamp=at, action="set")).json()
    assert (added["quantity"], replaced["quantity"]) == (7, 9)
    future = await usage(http, item_id, quantity=1, timestamp=JAN_1_2021 + 4 * DAY)
    assert future.status_code == 400
    assert stripe_state.usage_records[item_id] == {at: 9}


async def test_usage_of_an_invoiced_period_a_licensed_item_or_a_metered_quantity_is_refused(
    http: httpx.AsyncClient, clock: ManualClock
) -> None:
    subscription, item_id = await metered_subscription(http)
    flat_item = next(
        i["id"]
        for i in subscription["items"]["data"]
        if i["price"]["recurring"]["usage_type"] == "licensed"
    )
    clock.advance(31 * DAY + 60)
    late = await usage(http, item_id, quantity=1, timestamp=JAN_1_2021 + DAY)
    assert (late.status_code, late.json()["error"]["param"]) == (400, "timestamp")
    licensed = await usage(http, flat_item, quantity=1)
    assert licensed.status_code == 400
    customer = await create_customer(http)
    metered_price = subscription["items"]["data"][1]["price"]["id"]
    with_quantity = await http.post(
        "/v1/subscriptions",
        data=encode_form(
            {"customer": customer["id"], "items": [{"price": metered_price, "quantity": 2}]}
        ),
    )
    assert with_quantity.status_code == 400
    assert with_quantity.json()["error"]["param"] == "items[0][quantity]"


async def test_report_usage_sets_the_total_under_the_callers_key(
    adapter: StripeAdapter,
    recording: RecordingTransport,
    http: httpx.AsyncClient,
    stripe_state: StripeState,
    clock: ManualClock,
) -> None:
    _, item_id = await metered_subscription(http)
    clock.advance(3 * DAY)
    at = datetime.fromtimestamp(JAN_1_2021 + DAY, UTC)
    report = BillingUsageReport(quantity=14, timestamp=at)
    first = await adapter.report_usage(item_id, report, idempotency_key="pass-1")
    again = await adapter.report_usage(item_id, report, idempotency_key="pass-1")
    assert (first.id, first.quantity, first.timestamp) == (again.id, 14, at)
    exchange = recording.exchanges[0]
    assert exchange.request.headers["Idempotency-Key"] == "pass-1"
    assert (
        unquote(exchange.request_body.decode())
        == f"quantity=14&timestamp={JAN_1_2021 + DAY}&action=set"
    )
    assert stripe_state.usage_records[item_id] == {JAN_1_2021 + DAY: 14}
    clock.advance(28 * DAY + 60)
    with pytest.raises(BackendBusinessError):
        await adapter.report_usage(item_id, report, idempotency_key="pass-2")


async def test_a_test_clock_advanced_over_http_renews_and_bills_the_usage_before_it_answers(
    http: httpx.AsyncClient, stripe_state: StripeState
) -> None:
    """A sandbox in its own process has no `ManualClock` to move: a test clock moves it."""
    clock = await post(http, "/v1/test_helpers/test_clocks", {"frozen_time": JAN_1_2021})
    assert (clock["object"], clock["frozen_time"], clock["status"]) == (
        "test_helpers.test_clock",
        JAN_1_2021,
        "ready",
    )
    subscription, item_id = await metered_subscription(http)
    assert subscription["current_period_start"] == JAN_1_2021
    advance = f"/v1/test_helpers/test_clocks/{clock['id']}/advance"
    await post(http, advance, {"frozen_time": JAN_1_2021 + 3 * DAY})
    assert (await usage(http, item_id, quantity=7, timestamp=JAN_1_2021 + DAY)).status_code == 200

    advanced = await post(http, advance, {"frozen_time": FEB_1_2021 + 60})
    assert advanced["frozen_time"] == FEB_1_2021 + 60
    renewal = stripe_state.invoices[
        stripe_state.subscriptions[subscription["id"]]["latest_invoice"]
    ]  # made by the advance itself, no other request needed
    [metered] = [
        line
        for line in renewal["lines"]["data"]
        if line["price"]["recurring"]["usage_type"] == "metered"
    ]
    assert (metered["quantity"], metered["period"]) == (
        7,
        {"start": JAN_1_2021, "end": FEB_1_2021},
    )
    summaries = await http.get(f"/v1/subscription_items/{item_id}/usage_record_summaries")
    assert [
        (s["period"]["start"], s["total_usage"], s["invoice"]) for s in summaries.json()["data"]
    ] == [
        (FEB_1_2021, 0, None),  # the current period, not invoiced yet
        (JAN_1_2021, 7, renewal["id"]),
    ]
    retrieved = await http.get(f"/v1/test_helpers/test_clocks/{clock['id']}")
    assert retrieved.json()["frozen_time"] == FEB_1_2021 + 60

    backwards = await http.post(advance, data=encode_form({"frozen_time": JAN_1_2021}))
    assert (backwards.status_code, backwards.json()["error"]["param"]) == (400, "frozen_time")
    second = await http.post(
        "/v1/test_helpers/test_clocks", data=encode_form({"frozen_time": JAN_1_2021})
    )
    assert second.status_code == 400
    unknown = await http.post(
        "/v1/test_helpers/test_clocks/clock_unknown/advance",
        data=encode_form({"frozen_time": FEB_1_2021 + DAY}),
    )
    assert unknown.status_code == 404
