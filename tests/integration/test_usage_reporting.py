"""Usage reported to billing and invoiced, on SQLite and PostgreSQL, through the Stripe
sandbox: totals set per pass, renewal invoices charging them, late events carried to the
next invoice with their lineage, nothing lost and nothing counted twice."""

from __future__ import annotations

import asyncio
import random
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from core.models.customer import CustomerRow
from core.models.event_outbox import EventOutboxRow
from core.models.subscription import SubscriptionRow
from core.models.usage_event import UsageEventRow
from core.models.usage_report import UsageReportRow
from core.settings import BackendSettings
from process_apis.deps import ProcessContext
from process_apis.reconciliation.service import reconcile
from process_apis.usage.periods import add_months
from process_apis.usage.reporting import UsageReporter
from sandboxes.stripe import ManualClock, StripeState
from system_apis.priority import Priority
from tests.conftest import FAST_RETRIES, Gateway, GatewayFactory
from tests.support.usage import CUSTOMER, FLAT_PRICE, metered_price

# The first billing period starts 40 days ago, so two periods are in the gateway's past.
START = (datetime.now(UTC) - timedelta(days=40)).replace(microsecond=0)
SECOND = add_months(START, 1)
THIRD = add_months(START, 2)
# Three periods in the gateway's past: usage can arrive two periods late.
EARLY = (datetime.now(UTC) - timedelta(days=70)).replace(microsecond=0)


def stripe(gateway: Gateway) -> StripeState:
    assert gateway.backends.billing_sandbox is not None
    return gateway.backends.billing_sandbox


class Clock:
    """The reporter's clock, and the billing sandbox's, moved together."""

    def __init__(self, gateway: Gateway, start: datetime = START) -> None:
        self.now = start
        self.billing = ManualClock(int(start.timestamp()))
        stripe(gateway).clock = self.billing

    def __call__(self) -> datetime:
        return self.now

    def at(self, when: datetime) -> None:
        self.now = when
        self.billing.now = int(when.timestamp())


async def _ordered(gateway: Gateway, start: datetime) -> tuple[str, str, Clock]:
    """A subscription ordered through billing when its first period began (`start`),
    metering api_calls."""
    clock = Clock(gateway, start)
    price_id = await metered_price(gateway.sessionmaker, "api_calls")
    response = await gateway.client.post(
        "/v1/subscriptions",
        json={"customer_id": CUSTOMER, "price_id": FLAT_PRICE, "quantity": 1},
        headers={"Idempotency-Key": "usage-order"},
    )
    assert response.status_code == 201, response.text
    subscription_id = response.json()["subscription"]["id"]
    async with gateway.sessionmaker.begin() as session:
        await session.execute(
            update(SubscriptionRow)
            .where(SubscriptionRow.id == subscription_id)
            .values(created_at=start)
        )
    return subscription_id, price_id, clock


@pytest.fixture
async def metered(gateway: Gateway) -> tuple[str, str, Clock]:
    return await _ordered(gateway, START)


@pytest.fixture
async def metered_early(gateway: Gateway) -> tuple[str, str, Clock]:
    return await _ordered(gateway, EARLY)


@pytest.fixture
async def meter(gateway: Gateway) -> httpx.AsyncClient:
    return await gateway.client_with(["usage:write", "usage:read"], client_id="test-meter")


async def send(
    client: httpx.AsyncClient, subscription_id: str, *events: tuple[str, int, datetime]
) -> None:
    body = {
        "events": [
            {
                "id": event_id,
                "subscription_id": subscription_id,
                "meter": "api_calls",
                "quantity": quantity,
                "timestamp": at.isoformat(),
            }
            for event_id, quantity, at in events
        ]
    }
    answer = await client.post("/v1/usage-events", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["rejected"] == 0, answer.text


def reporter(gateway: Gateway, clock: Clock) -> UsageReporter:
    context: ProcessContext = gateway.app.state.process
    return UsageReporter(context, clock=clock)


def usage_lines(gateway: Gateway, subscription_ref: str) -> list[tuple[int, int, int]]:
    """(period start, quantity, amount) of every usage line billing invoiced."""
    lines = []
    for invoice in stripe(gateway).invoices.values():
        if invoice["subscription"] != subscription_ref:
            continue
        for line in invoice["lines"]["data"]:
            if line["price"]["recurring"]["usage_type"] == "metered":
                lines.append((line["period"]["start"], line["quantity"], line["amount"]))
    return sorted(lines)


async def statement(client: httpx.AsyncClient, subscription_id: str) -> list[dict[str, Any]]:
    answer = await client.get(f"/v1/subscriptions/{subscription_id}/usage")
    assert answer.status_code == 200, answer.text
    periods: list[dict[str, Any]] = answer.json()["periods"]
    return periods


async def test_usage_is_reported_invoiced_and_late_usage_carried_once(
    gateway: Gateway, meter: httpx.AsyncClient, metered: tuple[str, str, Clock]
) -> None:
    subscription_id, price_id, clock = metered
    report = reporter(gateway, clock)
    hour = timedelta(hours=1)
    await send(
        meter,
        subscription_id,
        ("a", 2, START + hour),
        ("b", 3, START + hour),
        ("c", 5, START + hour),
    )

    clock.at(START + 2 * hour)
    assert (await report.run_once()).outcomes == {"reported": 1}
    async with gateway.sessionmaker() as session:
        ref = await session.scalar(
            select(SubscriptionRow.billing_ref).where(SubscriptionRow.id == subscription_id)
        )
    assert ref is not None
    [item] = [
        i
        for i in stripe(gateway).subscriptions[ref]["items"]["data"]
        if i["price"]["metadata"].get("ledgergate_id") == price_id
    ]
    assert list(stripe(gateway).usage_records[item["id"]].values()) == [10]

    # Sent again (a duplicate storm) plus one new event: the total is set, never added.
    await send(meter, subscription_id, ("a", 2, START + hour), ("d", 4, START + 2 * hour))
    clock.at(START + 2.5 * hour)
    assert (await report.run_once()).outcomes == {"not_due": 1}  # reported within the hour
    clock.at(START + 3.5 * hour)
    assert (await report.run_once()).outcomes == {"reported": 1}
    records = stripe(gateway).usage_records[item["id"]]
    assert records[max(records)] == 14

    # Billing renews: the first period's usage is invoiced in arrears, 14 × 2 cents.
    clock.at(SECOND + hour)
    await send(meter, subscription_id, ("late-1", 6, START + 5 * hour), ("e", 1, SECOND + hour))
    assert (await report.run_once()).outcomes == {"reported": 1}
    assert usage_lines(gateway, ref) == [(int(START.timestamp()), 14, 28)]

    clock.at(THIRD + hour)
    assert (await report.run_once()).outcomes == {"closed": 1}
    assert usage_lines(gateway, ref) == [
        (int(START.timestamp()), 14, 28),
        (int(SECOND.timestamp()), 7, 14),  # its own 1 and the first period's late 6
    ]

    first_period, second_period, third_period = await statement(meter, subscription_id)
    assert (third_period["status"], third_period["events"]) == ("unreported", 0)
    assert (first_period["ingested"], first_period["counted"]) == ("20", "14")
    assert (first_period["reported"], first_period["invoiced_quantity"]) == ("14", 14)
    assert first_period["status"] == "closed"
    assert (second_period["ingested"], second_period["counted"]) == ("1", "1")
    assert second_period["carried_in"] == [
        {"period_start": START.isoformat().replace("+00:00", "Z"), "events": 1}
    ]
    assert (second_period["carried_in_total"], second_period["reported"]) == ("6", "7")
    assert second_period["invoiced_quantity"] == 7

    # Invoiced overall: exactly the sum over distinct events.
    async with gateway.sessionmaker() as session:
        events = (await session.scalars(select(UsageEventRow))).all()
        reported = (
            await session.scalars(
                select(EventOutboxRow).where(
                    EventOutboxRow.type == "com.ledgergate.usage.reported.v1"
                )
            )
        ).all()
    assert sum(e.quantity_micros for e in events) // 1_000_000 == 21
    assert sum(q for _, q, _ in usage_lines(gateway, ref)) == 21
    assert len(reported) == 3


async def test_a_pass_billing_refused_is_voided_and_its_events_carried(
    gateway: Gateway, meter: httpx.AsyncClient, metered: tuple[str, str, Clock]
) -> None:
    subscription_id, _, clock = metered
    report = reporter(gateway, clock)
    await send(meter, subscription_id, ("a", 2, START + timedelta(hours=1)))
    clock.at(START + timedelta(hours=2))
    assert (await report.run_once()).outcomes == {"reported": 1}
    await send(meter, subscription_id, ("b", 3, START + timedelta(hours=3)))
    # Billing renews between the pass's stamping and its send: the send is refused.
    clock.at(SECOND - timedelta(minutes=1))
    late = UsageReporter(renewing_first(gateway, clock, at=SECOND), clock=clock)
    assert (await late.run_once()).outcomes == {"failed": 1}

    clock.at(SECOND + timedelta(hours=1))
    assert (await report.run_once()).outcomes == {"reported": 1}
    clock.at(THIRD + timedelta(hours=1))
    assert (await report.run_once()).outcomes == {"closed": 1}
    [ref] = stripe(gateway).subscriptions
    # The refused pass was voided: its event went to the next invoice, once.
    assert [q for _, q, _ in usage_lines(gateway, ref)] == [2, 3]
    first_period, second_period, _ = await statement(meter, subscription_id)
    assert (first_period["counted"], first_period["invoiced_quantity"]) == ("2", 2)
    assert (second_period["carried_in_total"], second_period["invoiced_quantity"]) == ("3", 3)


def renewing_first(gateway: Gateway, clock: Clock, *, at: datetime) -> ProcessContext:
    """The gateway's context, whose billing renews (its clock moves to `at`) just before
    a usage report reaches it."""
    base: ProcessContext = gateway.app.state.process
    billing = base.billing

    class Renewing:
        def __getattr__(self, name: str) -> Any:
            return getattr(billing, name)

        async def report_usage(self, *args: Any, **kwargs: Any) -> Any:
            clock.billing.now = int(at.timestamp())
            return await billing.report_usage(*args, **kwargs)

    return replace(base, billing=Renewing())  # type: ignore[arg-type]


async def test_usage_billing_invoiced_for_another_quantity_is_a_reconciliation_difference(
    gateway: Gateway, meter: httpx.AsyncClient, metered: tuple[str, str, Clock]
) -> None:
    subscription_id, _, clock = metered
    report = reporter(gateway, clock)
    await send(meter, subscription_id, ("a", 4, START + timedelta(hours=1)))
    clock.at(START + timedelta(hours=2))
    assert (await report.run_once()).outcomes == {"reported": 1}
    clock.at(SECOND + timedelta(hours=1))
    assert (await report.run_once()).outcomes == {"closed": 1}
    context: ProcessContext = gateway.app.state.process
    async with gateway.sessionmaker() as session:
        entity = await session.scalar(
            select(CustomerRow.legal_entity_id).where(CustomerRow.id == CUSTOMER)
        )
    assert entity is not None
    month = f"{SECOND:%Y-%m}"

    async def usage_differences() -> list[tuple[str, int | None, int | None]]:
        found = await reconcile(context, legal_entity_id=entity, period=month)
        return [
            (d.kind, d.gateway_amount, d.billing_amount)
            for d in found.differences
            if d.document_type == "usage"
        ]

    assert await usage_differences() == []
    async with gateway.sessionmaker.begin() as session:
        await session.execute(update(UsageReportRow).values(invoiced_quantity=3))
    assert await usage_differences() == [("amount_mismatch", 8, 6)]


async def test_a_duplicate_storm_a_crashed_reporter_and_usage_two_periods_late_bill_each_event_once(
    gateway: Gateway, meter: httpx.AsyncClient, metered_early: tuple[str, str, Clock]
) -> None:
    subscription_id, _, clock = metered_early
    periods = [add_months(EARLY, n) for n in range(5)]
    chance = random.Random(17)
    sent: dict[str, int] = {}

    async def storm(*events: tuple[str, int, datetime]) -> None:
        """Each batch of 50 sent one to three times at once."""
        for event_id, quantity, _ in events:
            sent[event_id] = quantity
        batches = [events[n : n + 50] for n in range(0, len(events), 50)]
        copies = [b for b in batches for _ in range(chance.randint(1, 3))]
        await asyncio.gather(*(send(meter, subscription_id, *batch) for batch in copies))

    def within(period: int, prefix: str, count: int) -> list[tuple[str, int, datetime]]:
        start = periods[period]
        return [
            (
                f"{prefix}-{n}",
                chance.randint(1, 9),
                start + timedelta(minutes=chance.randint(1, 600)),
            )
            for n in range(count)
        ]

    await storm(*within(0, "p1", 120))
    clock.at(EARLY + timedelta(hours=12))
    assert (await reporter(gateway, clock).run_once()).outcomes == {"reported": 1}
    await storm(*within(0, "p1-more", 80))
    # A reporter dies after stamping its pass, before billing hears of it: its lease lapses.
    clock.at(EARLY + timedelta(hours=14))
    with pytest.raises(KilledError):
        await UsageReporter(dying(gateway), clock=clock).run_once()

    clock.at(periods[1] + timedelta(hours=12))  # billing renews: the first period invoiced
    await storm(*within(1, "p2", 100), *within(0, "p1-late", 30))
    assert (await reporter(gateway, clock).run_once()).outcomes == {"reported": 1}

    clock.at(periods[2] + timedelta(hours=12))
    await storm(*within(2, "p3", 60), *within(0, "p1-later", 20), *within(1, "p2-late", 20))
    two = [reporter(gateway, clock), reporter(gateway, clock)]
    outcomes = await asyncio.gather(*(r.run_once() for r in two))
    found = sorted(o for done in outcomes for o in done.outcomes)
    # One reports; the other finds the item leased, or nothing left once it looks.
    assert len(found) == 2, found
    assert found.count("reported") == 1, found

    clock.at(periods[3] + timedelta(hours=12))
    assert (await reporter(gateway, clock).run_once()).outcomes == {"closed": 1}

    [ref] = stripe(gateway).subscriptions
    invoiced = [quantity for _, quantity, _ in usage_lines(gateway, ref)]
    assert sum(invoiced) == sum(sent.values())  # every distinct event billed, once
    statement_periods = await statement(meter, subscription_id)
    assert all(
        p["reported_quantity"] == p["invoiced_quantity"]
        for p in statement_periods
        if p["status"] == "closed"
    )
    counted = sum(Decimal(p["counted"]) + Decimal(p["carried_in_total"]) for p in statement_periods)
    assert counted == sum(Decimal(p["ingested"]) for p in statement_periods) == sum(sent.values())


class KilledError(Exception):
    """The process running the reporter died (not a backend failure: nothing handles it)."""


def dying(gateway: Gateway) -> ProcessContext:
    base: ProcessContext = gateway.app.state.process
    billing = base.billing

    class Dying:
        def __getattr__(self, name: str) -> Any:
            return getattr(billing, name)

        async def report_usage(self, *args: Any, **kwargs: Any) -> Any:
            raise KilledError

    return replace(base, billing=Dying())  # type: ignore[arg-type]


async def test_usage_reports_wait_for_billing_informational_share_while_live_calls_go(
    make_gateway: GatewayFactory,
) -> None:
    """Billing's writes: 4 in flight at once, a quarter reserved, so reports may hold
    2. With those 2 held, a report waits, fails as transient and sends nothing; a live
    write still goes; once they are free, the report goes."""
    billing = {
        **BackendSettings(**FAST_RETRIES).model_dump(),  # type: ignore[arg-type]
        "max_connections": 4,
        "budget_enabled": True,
        "interactive_reserve": 0.25,
        "budget_wait_seconds": 0.3,
    }
    gateway = await make_gateway(billing=billing)
    meter = await gateway.client_with(["usage:write", "usage:read"], client_id="test-meter")
    subscription_id, _, clock = await _ordered(gateway, START)
    await send(meter, subscription_id, ("a", 2, START + timedelta(hours=1)))
    clock.at(START + timedelta(hours=2))
    client = gateway.backends.clients["billing"]
    assert client.write_budget is not None

    async with AsyncExitStack() as held:
        for _ in range(2):
            await held.enter_async_context(
                client.write_budget.slot(operation="held", priority=Priority.INFORMATIONAL)
            )
        assert (await reporter(gateway, clock).run_once()).outcomes == {"failed": 1}
        assert not stripe(gateway).usage_records
        live = await client.request(
            "POST", "/v1/customers", operation="live", form={"email": "live@example.com"}
        )
        assert live.status_code == 200

    assert (await reporter(gateway, clock).run_once()).outcomes == {"reported": 1}
    assert [list(r.values()) for r in stripe(gateway).usage_records.values()] == [[2]]
