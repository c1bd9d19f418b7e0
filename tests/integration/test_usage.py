"""Usage ingestion on SQLite and PostgreSQL: per-event answers with pointers, exact
de-duplication under concurrency, the contract's rules, caps, late events and the purge."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.seed import demo_id
from core.canonical.catalog import CapPolicy, MeterAggregation
from core.canonical.subscriptions import SubscriptionStatus
from core.errors import PROBLEM_BASE_URI
from core.models.event_outbox import EventOutboxRow
from core.models.usage_event import UsageEventRow
from core.settings import UsageSettings
from process_apis.usage.periods import add_months
from process_apis.usage.retention import UsagePurge
from tests.conftest import Gateway
from tests.support.usage import CUSTOMER, metered_subscription

URL = "/v1/usage-events"


@pytest.fixture
async def meter(gateway: Gateway) -> httpx.AsyncClient:
    return await gateway.client_with(["usage:write"], client_id="test-meter")


async def send(client: httpx.AsyncClient, *events: dict[str, Any]) -> dict[str, Any]:
    answer = await client.post(URL, json={"events": list(events)})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def problem_of(result: dict[str, Any]) -> tuple[str, str]:
    """(problem type slug, the first pointer) of a rejected event."""
    problem = result["problem"]
    return problem["type"].removeprefix(PROBLEM_BASE_URI), problem["errors"][0]["pointer"]


async def stored(gateway: Gateway) -> int:
    async with gateway.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(UsageEventRow)) or 0)


async def test_each_event_is_answered_in_its_place(
    gateway: Gateway, meter: httpx.AsyncClient
) -> None:
    usage = await metered_subscription(gateway.sessionmaker)
    events = [
        usage.event("e-1", quantity="2.5"),
        usage.event("e-2", quantity=1.5),
        usage.event("e-3", meter="storage_gb"),
        usage.event("e-1", quantity="2.50"),
        usage.event("e-4", customer_id=CUSTOMER, subscription_id=None),
    ]
    del events[4]["subscription_id"]
    body = await send(meter, *events)
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (2, 1, 2)
    first, floated, unmetered, again, by_customer = body["results"]
    assert (first["outcome"], first["subscription_id"], first["late"]) == (
        "accepted",
        usage.subscription_id,
        False,
    )
    assert datetime.fromisoformat(first["period_start"]) == usage.anchor
    assert problem_of(floated) == ("validation-error", "#/events/1/quantity")
    assert problem_of(unmetered) == ("usage-no-metered-subscription", "#/events/2/subscription_id")
    assert again["outcome"] == "duplicate"
    assert by_customer["outcome"] == "accepted"
    resent = await send(meter, usage.event("e-1", quantity="2.5"), usage.event("e-4", quantity=9))
    assert [r["outcome"] for r in resent["results"]] == ["duplicate", "rejected"]
    assert problem_of(resent["results"][1]) == ("usage-event-conflict", "#/events/1/id")
    assert resent["results"][1]["problem"]["status"] == 409
    assert await stored(gateway) == 2


async def test_ids_are_per_client(gateway: Gateway, meter: httpx.AsyncClient) -> None:
    usage = await metered_subscription(gateway.sessionmaker)
    other = await gateway.client_with(["usage:write"], client_id="test-other-meter")
    assert (await send(meter, usage.event("same-id")))["accepted"] == 1
    assert (await send(other, usage.event("same-id")))["accepted"] == 1
    assert await stored(gateway) == 2


async def test_a_batch_sent_three_times_at_once_is_stored_once(
    gateway: Gateway, meter: httpx.AsyncClient
) -> None:
    usage = await metered_subscription(gateway.sessionmaker)
    events = [usage.event(f"c-{n}", quantity=n) for n in range(300)]
    answers = await asyncio.gather(*(send(meter, *events) for _ in range(3)))
    assert sum(a["accepted"] for a in answers) == 300
    assert sum(a["duplicate"] for a in answers) == 600
    assert await stored(gateway) == 300
    async with gateway.sessionmaker() as session:
        total = await session.scalar(select(func.sum(UsageEventRow.quantity_micros)))
    assert total == sum(range(300)) * 1_000_000


async def test_a_malformed_batch_is_refused_whole(
    gateway: Gateway, meter: httpx.AsyncClient
) -> None:
    usage = await metered_subscription(gateway.sessionmaker)
    too_many = await meter.post(URL, json={"events": [usage.event(f"m-{n}") for n in range(1001)]})
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["pointer"] == "#/events"
    not_json = await meter.post(
        URL, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 400
    assert not_json.json()["type"] == PROBLEM_BASE_URI + "malformed-json"
    assert await stored(gateway) == 0


async def test_the_contract_rules_apply(gateway: Gateway, meter: httpx.AsyncClient) -> None:
    usage = await metered_subscription(
        gateway.sessionmaker,
        meter="seats",
        min_quantity_micros=1_000_000,
        max_quantity_micros=50_000_000,
        integer_only=True,
    )
    before_term = add_months(usage.anchor, -3).isoformat()
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    body = await send(
        meter,
        usage.event("r-1", meter="seats", quantity=0),
        usage.event("r-2", meter="seats", quantity=51),
        usage.event("r-3", meter="seats", quantity="1.5"),
        usage.event("r-4", meter="seats", timestamp=before_term),
        usage.event("r-5", meter="seats", timestamp=future),
        usage.event("r-6", meter="seats", quantity=50),
    )
    slugs = [problem_of(r) if r["problem"] else r["outcome"] for r in body["results"]]
    assert slugs == [
        ("usage-quantity-out-of-range", "#/events/0/quantity"),
        ("usage-quantity-out-of-range", "#/events/1/quantity"),
        ("usage-quantity-out-of-range", "#/events/2/quantity"),
        ("usage-outside-term", "#/events/3/timestamp"),
        ("validation-error", "#/events/4/timestamp"),
        "accepted",
    ]


async def test_a_canceled_subscription_takes_usage_of_its_term_only(
    gateway: Gateway, meter: httpx.AsyncClient
) -> None:
    pending = await metered_subscription(gateway.sessionmaker, status=SubscriptionStatus.PENDING)
    canceled = await metered_subscription(
        gateway.sessionmaker,
        status=SubscriptionStatus.CANCELED,
        anchor=(datetime.now(UTC) - timedelta(days=40)).replace(microsecond=0),
    )
    inside = canceled.event("k-1")
    after = canceled.event("k-2", timestamp=(datetime.now(UTC) - timedelta(days=1)).isoformat())
    body = await send(meter, inside, after, pending.event("k-3"))
    assert body["results"][0]["outcome"] == "accepted"
    assert problem_of(body["results"][1]) == ("usage-outside-term", "#/events/1/timestamp")
    assert problem_of(body["results"][2])[0] == "usage-no-metered-subscription"


async def test_unique_count_needs_its_property(gateway: Gateway, meter: httpx.AsyncClient) -> None:
    usage = await metered_subscription(
        gateway.sessionmaker,
        meter="active_users",
        aggregation=MeterAggregation.UNIQUE_COUNT,
        unique_property="user",
        cap_micros=2_000_000,
        cap_policy=CapPolicy.REFUSE,
    )
    body = await send(
        meter,
        usage.event("u-1", meter="active_users"),
        usage.event("u-2", meter="active_users", properties={"user": "ada"}),
        usage.event("u-3", meter="active_users", properties={"user": "ada"}),
        usage.event("u-4", meter="active_users", properties={"user": "bob"}),
        usage.event("u-5", meter="active_users", properties={"user": "cy"}),
    )
    outcomes = [problem_of(r)[0] if r["problem"] else r["outcome"] for r in body["results"]]
    assert outcomes == [
        "usage-unique-property-missing",
        "accepted",
        "accepted",
        "accepted",
        "usage-cap-exceeded",
    ]
    assert body["results"][0]["problem"]["errors"][0]["pointer"] == "#/events/0/properties/user"


async def cap_events(gateway: Gateway) -> list[dict[str, Any]]:
    async with gateway.sessionmaker() as session:
        rows = await session.scalars(
            select(EventOutboxRow).where(EventOutboxRow.type.like("%usage.cap_exceeded%"))
        )
        return [row.envelope for row in rows]


async def test_over_the_cap_is_flagged_once_or_refused(
    gateway: Gateway, meter: httpx.AsyncClient
) -> None:
    flag = await metered_subscription(
        gateway.sessionmaker, meter="calls_flag", cap_micros=10_000_000, cap_policy=CapPolicy.FLAG
    )
    refuse = await metered_subscription(
        gateway.sessionmaker,
        meter="calls_refuse",
        cap_micros=10_000_000,
        cap_policy=CapPolicy.REFUSE,
    )
    body = await send(
        meter,
        flag.event("f-1", meter="calls_flag", quantity=8),
        flag.event("f-2", meter="calls_flag", quantity=3),
        refuse.event("r-1", meter="calls_refuse", quantity=8),
        refuse.event("r-2", meter="calls_refuse", quantity=3),
        refuse.event("r-3", meter="calls_refuse", quantity=2),
    )
    results = body["results"]
    assert [(r["outcome"], r["flagged"]) for r in results[:2]] == [
        ("accepted", False),
        ("accepted", True),
    ]
    assert problem_of(results[3]) == ("usage-cap-exceeded", "#/events/3/quantity")
    assert results[3]["problem"]["usage"] == "11"
    assert [r["outcome"] for r in results[2:]] == ["accepted", "rejected", "accepted"]
    await send(meter, flag.event("f-2", meter="calls_flag", quantity=3))  # a duplicate
    (event,) = await cap_events(gateway)
    assert event["subject"] == flag.subscription_id
    assert (event["data"]["usage_event_id"], event["data"]["cap"], event["data"]["usage"]) == (
        "f-2",
        "10",
        "11",
    )


async def test_late_events_count_in_their_period_until_the_grace_ends(
    gateway: Gateway, meter: httpx.AsyncClient
) -> None:
    anchor = (datetime.now(UTC) - timedelta(hours=12)).replace(microsecond=0)
    usage = await metered_subscription(gateway.sessionmaker, anchor=anchor)
    last_period = add_months(anchor, -1) + timedelta(days=3)
    two_back = add_months(anchor, -2) + timedelta(days=3)
    body = await send(
        meter,
        usage.event("l-1", timestamp=last_period.isoformat()),
        usage.event("l-2", timestamp=two_back.isoformat()),
        usage.event("l-3"),
    )
    within, outside, current = body["results"]
    assert (within["late"], datetime.fromisoformat(within["period_end"])) == (False, anchor)
    assert outside["outcome"] == "accepted"
    assert outside["late"] is True
    assert datetime.fromisoformat(outside["period_start"]) == add_months(anchor, -2)
    assert current["late"] is False
    async with gateway.sessionmaker() as session:
        late = await session.scalars(select(UsageEventRow.event_id).where(UsageEventRow.late))
        assert list(late) == ["l-2"]


async def test_the_purge_drops_events_past_their_retention(
    gateway: Gateway, meter: httpx.AsyncClient
) -> None:
    usage = await metered_subscription(gateway.sessionmaker, periods_before=6)
    old = add_months(usage.anchor, -5) + timedelta(days=1)
    await send(meter, *(usage.event(f"p-{n}", timestamp=old.isoformat()) for n in range(5)))
    await send(meter, usage.event("p-now"))
    keep = UsagePurge(gateway.sessionmaker, UsageSettings(retention=timedelta(days=400)))
    assert await keep.run_once() == 0
    purge = UsagePurge(
        gateway.sessionmaker, UsageSettings(retention=timedelta(days=60), purge_batch=2)
    )
    assert await purge.run_once() == 5
    assert await stored(gateway) == 1


async def test_a_metered_price_is_reference_data(gateway: Gateway) -> None:
    ops = await gateway.client_with(["refdata:read", "refdata:write"], client_id="test-ops")
    url = f"/ops/v1/products/{demo_id('product', 2)}/prices"
    metering = {"meter": "gb_stored", "aggregation": "max", "max_quantity": "500.5", "cap": 400}
    body = {"currency": "USD", "unit_amount": 15, "interval": "month", "metering": metering}
    created = await ops.post(url, json=body)
    assert created.status_code == 201, created.text
    assert created.json()["metering"] == {
        "meter": "gb_stored",
        "aggregation": "max",
        "unique_property": None,
        "min_quantity": None,
        "max_quantity": "500.5",
        "integer_only": False,
        "cap": "400",
        "cap_policy": "flag",
    }
    flat = (await ops.get(f"/ops/v1/prices/{demo_id('price', 11)}")).json()
    assert flat["metering"] is None
    unique = {**body, "metering": {"meter": "users", "aggregation": "unique_count"}}
    refused = await ops.post(url, json=unique)
    assert refused.status_code == 422
    floated = {**body, "metering": {"meter": "users", "cap": 1.5}}
    assert (await ops.post(url, json=floated)).status_code == 422


async def test_a_repeated_id_within_a_batch_is_answered_in_its_own_place(
    gateway: Gateway, meter: httpx.AsyncClient
) -> None:
    usage = await metered_subscription(gateway.sessionmaker)
    unmetered = usage.event("w-1", meter="unknown_meter")
    body = await send(
        meter,
        unmetered,
        unmetered,
        usage.event("w-2"),
        usage.event("w-2", quantity=7),
    )
    assert [problem_of(r) if r["problem"] else r["outcome"] for r in body["results"]] == [
        ("usage-no-metered-subscription", "#/events/0/subscription_id"),
        ("usage-no-metered-subscription", "#/events/1/subscription_id"),
        "accepted",
        ("usage-event-conflict", "#/events/3/id"),
    ]
    assert [r["index"] for r in body["results"]] == [0, 1, 2, 3]
