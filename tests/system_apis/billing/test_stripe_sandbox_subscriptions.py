"""The Stripe sandbox's prices, subscriptions, prorations and upcoming invoices, on a fixed clock.

The clock starts at 2021-01-01T00:00:00Z, so a monthly period is January's 31 days
(2 678 400 s); ten days in, 21 days (1 814 400 s) of it remain.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from sandboxes.stripe import ManualClock, StripeState, prorate, shift
from system_apis.billing.mapping import encode_form
from tests.support.stripe_sandbox import (
    DAY,
    JAN_1_2021,
    create_customer,
    create_price,
    create_subscription,
    post,
)

FEB_1_2021 = JAN_1_2021 + 31 * DAY


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(JAN_1_2021)


@pytest.fixture
def stripe_state(clock: ManualClock) -> StripeState:
    return StripeState(clock=clock)


def error_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


async def send(http: httpx.AsyncClient, path: str, params: dict[str, Any]) -> httpx.Response:
    return await http.post(path, data=encode_form(params))


def utc(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


# --- arithmetic --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("anchor", "interval", "periods", "expected"),
    [
        (utc(2021, 1, 31), "month", 1, utc(2021, 2, 28)),
        (utc(2021, 1, 31), "month", 2, utc(2021, 3, 31)),
        (utc(2020, 2, 29), "year", 1, utc(2021, 2, 28)),
        (utc(2020, 2, 29), "year", 4, utc(2024, 2, 29)),
        (utc(2021, 12, 15, 9, 30), "month", 1, utc(2022, 1, 15, 9, 30)),
        (utc(2021, 1, 1), "week", 2, utc(2021, 1, 15)),
        (utc(2021, 1, 1), "day", 3, utc(2021, 1, 4)),
    ],
)
def test_periods_keep_the_anchor_day(
    anchor: int, interval: str, periods: int, expected: int
) -> None:
    assert shift(anchor, interval, 1, periods) == expected


@pytest.mark.parametrize(
    ("amount", "remaining", "period", "expected"),
    [
        (3000, 1_814_400, 2_678_400, 2032),
        (-3000, 1_814_400, 2_678_400, -2032),
        (1, 1, 2, 1),
        (-1, 1, 2, -1),
        (3, 1, 4, 1),
        (100, 0, 10, 0),
        (100, 10, 10, 100),
    ],
)
def test_prorate_rounds_half_away_from_zero(
    amount: int, remaining: int, period: int, expected: int
) -> None:
    assert prorate(amount, remaining=remaining, period=period) == expected


# --- products and prices -----------------------------------------------------------------


async def test_price_object_and_list(http: httpx.AsyncClient) -> None:
    monthly = await create_price(http, unit_amount=3000)
    one_time = await create_price(http, unit_amount=500, interval=None)
    yearly = await post(
        http,
        "/v1/prices",
        {
            "product": monthly["product"],
            "currency": "USD",
            "unit_amount": 30000,
            "recurring": {"interval": "year"},
        },
    )

    assert monthly["id"].startswith("price_")
    assert (monthly["type"], monthly["recurring"]["interval"], monthly["currency"]) == (
        "recurring",
        "month",
        "usd",
    )
    assert (one_time["type"], one_time["recurring"]) == ("one_time", None)
    assert (await http.get(f"/v1/prices/{yearly['id']}")).json() == yearly
    listed = (await http.get("/v1/prices", params={"product": monthly["product"]})).json()
    assert [p["id"] for p in listed["data"]] == [yearly["id"], monthly["id"]]
    recurring = (await http.get("/v1/prices", params={"type": "one_time"})).json()
    assert [p["id"] for p in recurring["data"]] == [one_time["id"]]


@pytest.mark.parametrize(
    ("params", "code", "param"),
    [
        ({"currency": "usd", "unit_amount": 1, "product": ""}, "parameter_missing", "product"),
        (
            {"currency": "usd", "product": "prod_nope", "unit_amount": 1},
            "resource_missing",
            "product",
        ),
        ({"currency": "usd", "unit_amount": "1.5"}, "parameter_invalid_integer", "unit_amount"),
        (
            {"currency": "usd", "unit_amount": 1, "recurring": {"interval": "fortnight"}},
            None,
            "recurring[interval]",
        ),
        (
            {"currency": "usd", "unit_amount": 1, "recurring": {"interval": "month", "x": "1"}},
            "parameter_unknown",
            "recurring[x]",
        ),
    ],
)
async def test_price_errors(
    http: httpx.AsyncClient, params: dict[str, Any], code: str | None, param: str
) -> None:
    product = await post(http, "/v1/products", {"name": "Pro"})
    response = await send(http, "/v1/prices", {"product": product["id"]} | params)

    assert response.status_code == 400
    assert (error_of(response).get("code"), error_of(response)["param"]) == (code, param)


# --- subscriptions -------------------------------------------------------------------------


async def test_create_bills_the_first_period_in_advance(http: httpx.AsyncClient) -> None:
    customer = await create_customer(http)
    price = await create_price(http, unit_amount=3000)

    subscription = await create_subscription(
        http, customer["id"], (price["id"], 2), metadata={"ledgergate_id": "sub_01"}
    )

    assert subscription["id"].startswith("sub_")
    assert (subscription["status"], subscription["metadata"]) == (
        "active",
        {"ledgergate_id": "sub_01"},
    )
    assert (subscription["current_period_start"], subscription["current_period_end"]) == (
        JAN_1_2021,
        FEB_1_2021,
    )
    [item] = subscription["items"]["data"]
    assert (item["price"]["id"], item["quantity"]) == (price["id"], 2)
    invoice = (await http.get(f"/v1/invoices/{subscription['latest_invoice']}")).json()
    assert (invoice["billing_reason"], invoice["status"], invoice["total"]) == (
        "subscription_create",
        "paid",
        6000,
    )
    [line] = invoice["lines"]["data"]
    assert (line["type"], line["subscription_item"], line["period"]) == (
        "subscription",
        item["id"],
        {"start": JAN_1_2021, "end": FEB_1_2021},
    )
    assert (await http.get(f"/v1/customers/{customer['id']}")).json()["currency"] == "usd"


async def test_yearly_price_gives_a_yearly_period(http: httpx.AsyncClient) -> None:
    customer = await create_customer(http)
    price = await create_price(http, unit_amount=30000, interval="year")

    subscription = await create_subscription(http, customer["id"], (price["id"], 1))

    assert subscription["current_period_end"] == utc(2022, 1, 1)


async def test_send_invoice_subscription_leaves_the_invoice_open(http: httpx.AsyncClient) -> None:
    customer = await create_customer(http)
    price = await create_price(http, unit_amount=3000)

    subscription = await create_subscription(
        http, customer["id"], (price["id"], 1), collection_method="send_invoice", days_until_due=14
    )

    invoice = (await http.get(f"/v1/invoices/{subscription['latest_invoice']}")).json()
    assert (invoice["status"], invoice["amount_remaining"]) == ("open", 3000)
    assert invoice["due_date"] == JAN_1_2021 + 14 * DAY


async def subscribed(
    http: httpx.AsyncClient,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A customer on 1 × 30.00/month since 1 January, and a 60.00/month price to move to."""
    customer = await create_customer(http)
    basic = await create_price(http, unit_amount=3000, product_name="Basic")
    pro = await create_price(http, unit_amount=6000, product_name="Pro")
    subscription = await create_subscription(http, customer["id"], (basic["id"], 1))
    return subscription, basic, pro


async def test_upgrade_mid_cycle_prorates_to_the_second(
    http: httpx.AsyncClient, clock: ManualClock, stripe_state: StripeState
) -> None:
    subscription, basic, pro = await subscribed(http)
    item = subscription["items"]["data"][0]
    clock.advance(10 * DAY)

    updated = await post(
        http,
        f"/v1/subscriptions/{subscription['id']}",
        {
            "items": [{"id": item["id"], "price": pro["id"], "quantity": 2}],
            "proration_behavior": "create_prorations",
        },
    )

    [new_item] = updated["items"]["data"]
    assert (new_item["id"], new_item["price"]["id"], new_item["quantity"]) == (
        item["id"],
        pro["id"],
        2,
    )
    prorations = [i for i in stripe_state.invoice_items.values() if i["proration"]]
    at = JAN_1_2021 + 10 * DAY
    assert [(i["amount"], i["quantity"], i["price"]["id"], i["period"]) for i in prorations] == [
        (-2032, 1, basic["id"], {"start": at, "end": FEB_1_2021}),  # -3000 × 21/31
        (8129, 2, pro["id"], {"start": at, "end": FEB_1_2021}),  # 12000 × 21/31
    ]
    assert [i["description"] for i in prorations] == [
        "Unused time on 1 × Basic after 11 Jan 2021",
        "Remaining time on 2 × Pro after 11 Jan 2021",
    ]
    assert all(i["invoice"] is None and i["subscription"] == subscription["id"] for i in prorations)


async def test_upcoming_invoice_previews_the_change_exactly(
    http: httpx.AsyncClient, clock: ManualClock
) -> None:
    subscription, _, pro = await subscribed(http)
    item = subscription["items"]["data"][0]
    clock.advance(10 * DAY)
    at = JAN_1_2021 + 10 * DAY + 3600  # an hour later than now: the preview's own date
    change = {"id": item["id"], "price": pro["id"], "quantity": 2}

    preview = (
        await http.get(
            "/v1/invoices/upcoming",
            params=encode_form(
                {
                    "subscription": subscription["id"],
                    "subscription_items": [change],
                    "subscription_proration_date": at,
                }
            ),
        )
    ).json()
    clock.advance(2 * DAY)
    await post(
        http,
        f"/v1/subscriptions/{subscription['id']}",
        {"items": [change], "proration_date": at},
    )
    clock.now = FEB_1_2021
    renewed = (await http.get(f"/v1/subscriptions/{subscription['id']}")).json()
    invoice = (await http.get(f"/v1/invoices/{renewed['latest_invoice']}")).json()

    assert "id" not in preview
    assert preview["subscription_proration_date"] == at
    remaining = FEB_1_2021 - at
    expected = [-round(3000 * remaining / (31 * DAY)), round(12000 * remaining / (31 * DAY))]
    assert [line["amount"] for line in preview["lines"]["data"] if line["proration"]] == expected
    assert preview["total"] == sum(expected) + 12000 == invoice["total"]
    assert (invoice["billing_reason"], invoice["status"]) == ("subscription_cycle", "paid")
    assert (renewed["current_period_start"], renewed["current_period_end"]) == (
        FEB_1_2021,
        utc(2021, 3, 1),
    )
    assert sorted(line["amount"] for line in invoice["lines"]["data"]) == sorted(
        line["amount"] for line in preview["lines"]["data"]
    )


async def test_always_invoice_bills_the_prorations_now(
    http: httpx.AsyncClient, clock: ManualClock
) -> None:
    subscription, _, pro = await subscribed(http)
    clock.advance(10 * DAY)
    item_id = subscription["items"]["data"][0]["id"]

    updated = await post(
        http,
        f"/v1/subscriptions/{subscription['id']}",
        {"items": [{"id": item_id, "price": pro["id"]}], "proration_behavior": "always_invoice"},
    )

    invoice = (await http.get(f"/v1/invoices/{updated['latest_invoice']}")).json()
    assert invoice["id"] != subscription["latest_invoice"]
    assert (invoice["billing_reason"], invoice["status"], invoice["total"]) == (
        "subscription_update",
        "paid",
        -2032 + 4065,
    )
    assert all(line["proration"] for line in invoice["lines"]["data"])


async def test_no_proration_changes_only_the_items(
    http: httpx.AsyncClient, clock: ManualClock, stripe_state: StripeState
) -> None:
    subscription, _, pro = await subscribed(http)
    clock.advance(10 * DAY)
    item_id = subscription["items"]["data"][0]["id"]

    await post(
        http,
        f"/v1/subscriptions/{subscription['id']}",
        {"items": [{"id": item_id, "price": pro["id"]}], "proration_behavior": "none"},
    )

    assert stripe_state.invoice_items == {}


async def test_add_and_remove_items(
    http: httpx.AsyncClient, clock: ManualClock, stripe_state: StripeState
) -> None:
    subscription, _, pro = await subscribed(http)
    clock.advance(10 * DAY)
    item_id = subscription["items"]["data"][0]["id"]

    updated = await post(
        http,
        f"/v1/subscriptions/{subscription['id']}",
        {"items": [{"id": item_id, "deleted": True}, {"price": pro["id"], "quantity": 1}]},
    )

    [item] = updated["items"]["data"]
    assert (item["price"]["id"], item["id"] != item_id) == (pro["id"], True)
    assert [i["amount"] for i in stripe_state.invoice_items.values()] == [-2032, 4065]


async def test_quantity_only_change_prorates_the_difference(
    http: httpx.AsyncClient, clock: ManualClock, stripe_state: StripeState
) -> None:
    subscription, _, _ = await subscribed(http)
    clock.advance(10 * DAY)
    item_id = subscription["items"]["data"][0]["id"]

    await post(
        http, f"/v1/subscriptions/{subscription['id']}", {"items": [{"id": item_id, "quantity": 3}]}
    )

    assert [i["amount"] for i in stripe_state.invoice_items.values()] == [-2032, 6097]


async def test_renewal_without_changes_bills_the_next_period(
    http: httpx.AsyncClient, clock: ManualClock
) -> None:
    subscription, _, _ = await subscribed(http)
    clock.now = utc(2021, 3, 15)

    renewed = (await http.get(f"/v1/subscriptions/{subscription['id']}")).json()
    invoices = (await http.get("/v1/invoices", params={"subscription": subscription["id"]})).json()

    assert (renewed["current_period_start"], renewed["current_period_end"]) == (
        utc(2021, 3, 1),
        utc(2021, 4, 1),
    )
    assert [(i["billing_reason"], i["total"], i["period_start"]) for i in invoices["data"]] == [
        ("subscription_cycle", 3000, utc(2021, 3, 1)),
        ("subscription_cycle", 3000, FEB_1_2021),
        ("subscription_create", 3000, JAN_1_2021),
    ]


async def test_cancel_at_period_end(http: httpx.AsyncClient, clock: ManualClock) -> None:
    subscription, _, _ = await subscribed(http)
    await post(http, f"/v1/subscriptions/{subscription['id']}", {"cancel_at_period_end": True})
    clock.now = FEB_1_2021 + 1

    ended = (await http.get(f"/v1/subscriptions/{subscription['id']}")).json()

    assert (ended["status"], ended["ended_at"]) == ("canceled", FEB_1_2021)


async def test_cancel_with_prorate_and_invoice_now_credits_the_balance(
    http: httpx.AsyncClient, clock: ManualClock
) -> None:
    subscription, _, _ = await subscribed(http)
    clock.advance(10 * DAY)

    response = await http.request(
        "DELETE",
        f"/v1/subscriptions/{subscription['id']}",
        data=encode_form({"prorate": True, "invoice_now": True}),
    )

    canceled = response.json()
    assert (canceled["status"], canceled["canceled_at"]) == ("canceled", JAN_1_2021 + 10 * DAY)
    invoice = (await http.get(f"/v1/invoices/{canceled['latest_invoice']}")).json()
    assert (invoice["total"], invoice["amount_due"], invoice["ending_balance"]) == (-2032, 0, -2032)
    customer = (await http.get(f"/v1/customers/{canceled['customer']}")).json()
    assert customer["balance"] == -2032
    again = await http.delete(f"/v1/subscriptions/{subscription['id']}")
    assert (again.status_code, error_of(again)["code"]) == (404, "resource_missing")
    change = await send(http, f"/v1/subscriptions/{subscription['id']}", {"metadata": {"k": "v"}})
    assert change.status_code == 404
    assert (await http.get(f"/v1/subscriptions/{subscription['id']}")).status_code == 200


async def test_a_customer_credit_pays_towards_the_next_invoice(
    http: httpx.AsyncClient, clock: ManualClock
) -> None:
    subscription, basic, _ = await subscribed(http)
    clock.advance(10 * DAY)
    await http.request(
        "DELETE",
        f"/v1/subscriptions/{subscription['id']}",
        data=encode_form({"prorate": True, "invoice_now": True}),
    )

    again = await create_subscription(http, subscription["customer"], (basic["id"], 1))

    invoice = (await http.get(f"/v1/invoices/{again['latest_invoice']}")).json()
    assert (invoice["total"], invoice["starting_balance"], invoice["amount_due"]) == (
        3000,
        -2032,
        968,
    )


@pytest.mark.parametrize(
    ("items", "extra", "status", "code", "param"),
    [
        ([{"id": "si_nope", "quantity": 1}], {}, 400, "resource_missing", "items[0][id]"),
        ([{"price": "price_nope"}], {}, 400, "resource_missing", "items[0][price]"),
        ([{"quantity": 2}], {}, 400, "parameter_missing", "items[0][price]"),
        (
            [{"id": "ITEM", "quantity": "two"}],
            {},
            400,
            "parameter_invalid_integer",
            "items[0][quantity]",
        ),
        (
            [{"id": "ITEM", "quantity": 2}],
            {"proration_date": JAN_1_2021 - 1},
            400,
            None,
            "proration_date",
        ),
        (
            [{"id": "ITEM", "quantity": 2}],
            {"proration_behavior": "sometimes"},
            400,
            None,
            "proration_behavior",
        ),
        ([{"id": "ITEM", "deleted": True}], {}, 400, None, "items"),
    ],
)
async def test_update_errors(
    http: httpx.AsyncClient,
    items: list[dict[str, Any]],
    extra: dict[str, Any],
    status: int,
    code: str | None,
    param: str,
) -> None:
    subscription, _, _ = await subscribed(http)
    item_id = subscription["items"]["data"][0]["id"]
    items = [{k: item_id if v == "ITEM" else v for k, v in item.items()} for item in items]

    response = await send(
        http, f"/v1/subscriptions/{subscription['id']}", {"items": items, **extra}
    )

    assert response.status_code == status
    assert (error_of(response).get("code"), error_of(response)["param"]) == (code, param)


async def test_subscription_create_errors(http: httpx.AsyncClient) -> None:
    customer = await create_customer(http)
    one_time = await create_price(http, unit_amount=500, interval=None)
    monthly = await create_price(http, unit_amount=500)
    yearly = await create_price(http, unit_amount=500, interval="year")
    euro = await create_price(http, unit_amount=500, currency="eur")

    no_items = await send(http, "/v1/subscriptions", {"customer": customer["id"]})
    refused = [
        await send(
            http,
            "/v1/subscriptions",
            {"customer": customer["id"], "items": [{"price": p} for p in prices]},
        )
        for prices in (
            [one_time["id"]],
            [monthly["id"], yearly["id"]],
            [monthly["id"], monthly["id"]],
        )
    ]
    await create_subscription(http, customer["id"], (monthly["id"], 1))
    other_currency = await send(
        http, "/v1/subscriptions", {"customer": customer["id"], "items": [{"price": euro["id"]}]}
    )

    assert (error_of(no_items)["code"], error_of(no_items)["param"]) == (
        "parameter_missing",
        "items",
    )
    assert [r.status_code for r in refused] == [400, 400, 400]
    assert "type=recurring" in error_of(refused[0])["message"]
    assert "must match" in error_of(refused[1])["message"]
    assert "same price" in error_of(refused[2])["message"]
    assert other_currency.status_code == 400


async def test_upcoming_for_a_customer_without_anything_is_404(http: httpx.AsyncClient) -> None:
    customer = await create_customer(http)

    response = await http.get("/v1/invoices/upcoming", params={"customer": customer["id"]})

    assert (response.status_code, error_of(response)["code"]) == (404, "invoice_upcoming_none")


async def test_upcoming_for_a_customer_picks_its_subscription(http: httpx.AsyncClient) -> None:
    subscription, _, _ = await subscribed(http)

    upcoming = (
        await http.get("/v1/invoices/upcoming", params={"customer": subscription["customer"]})
    ).json()

    assert (upcoming["subscription"], upcoming["total"], upcoming["created"]) == (
        subscription["id"],
        3000,
        FEB_1_2021,
    )
    assert "subscription_proration_date" not in upcoming


async def test_changing_the_interval_is_refused(http: httpx.AsyncClient) -> None:
    subscription, _, _ = await subscribed(http)
    yearly = await create_price(http, unit_amount=30000, interval="year")
    item_id = subscription["items"]["data"][0]["id"]

    response = await send(
        http,
        f"/v1/subscriptions/{subscription['id']}",
        {"items": [{"id": item_id, "price": yearly["id"]}]},
    )

    assert (response.status_code, error_of(response)["param"]) == (400, "items")
    assert "interval" in error_of(response)["message"]
