"""Usage duplicate storm, run through reporting and invoicing: usage batches sent 1 to 3
times at once against a served gateway, events up to two billing periods late, the
gateway SIGKILLed mid-ingest; then the periods run to their end on billing's test clock.

Billing (the sandbox process) follows a test clock frozen at the start of the period two
before the current one when the order is placed through the gateway, so the metered
subscription's third period is the current one on the gateway's (wall) clock. `events`
distinct events spread over the three periods go in two storms, each batch of `BATCH`
sent one to three times concurrently:

1. two thirds of them; the gateway is killed once a quarter of the sends are answered,
   started again on the same database, and every copy that got no answer is sent again
   (and again, up to `RESENDS` times, those that still got none);
2. billing's clock moves to just before the first period's end and the worker reports;
   it moves on to just before the second period's end (billing renews: the first
   period's usage is invoiced), and the last third is sent: its events of the first
   period arrive after that period was invoiced, and are carried to the second;
3. the worker reports, the clock moves to just before the third period's end, the
   worker reports, and the clock moves past it (the third period invoiced).

From billing's own records (usage record summaries and invoices) each period's invoiced
quantity must equal its reported total, and both the distinct events of that period
sent before its report plus the earlier periods' ones carried in; over the periods, the
sum over the distinct events, exactly. The distinct events stored and the usage
statement's `ingested` must equal that sum too: none lost, none counted twice.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, update

from app.seed import demo_id
from chaos.estate import Estate, estate
from chaos.load import client
from chaos.report import Outcome
from core.db import create_engine, create_sessionmaker
from core.models.subscription import SubscriptionRow
from core.models.usage_event import UsageEventRow
from process_apis.usage.periods import add_months
from tests.support.usage import FLAT_PRICE, Metered, metered_price

CHECK = "usage duplicate storm"
BATCH = 100
CONCURRENCY = 20
RESENDS = 3
MICROS = 1_000_000
BILLING_KEY = "sk_test_chaos"
MARGIN = timedelta(minutes=1)  # how near a period's end billing's clock stops

Event = dict[str, Any]


@dataclass
class Send:
    """One copy of a batch, and what the gateway answered (status 0: no answer)."""

    batch: int
    status: int = 0
    counts: tuple[int, int, int] = (0, 0, 0)  # accepted, duplicate, rejected
    problem: str = ""


@dataclass
class Storm:
    """The batches of a storm and every copy sent of them."""

    batches: list[list[Event]]
    copies: list[Send]
    kill_after: int = 0
    killed: bool = False
    unanswered: list[Send] = field(default_factory=list)

    @classmethod
    def of(cls, events: list[Event], chance: random.Random) -> Storm:
        batches = [events[n : n + BATCH] for n in range(0, len(events), BATCH)]
        # A batch's copies side by side, so they are in flight at once.
        copies = [Send(i) for i in range(len(batches)) for _ in range(chance.randint(1, 3))]
        return cls(batches, copies)

    @property
    def answers(self) -> list[Send]:
        return [c for c in self.copies if c.status] + self.unanswered


def run(events: int, logs: Path) -> Outcome:
    with estate("usage", logs) as place:
        return asyncio.run(_storm(place, events))


def _first_period_start() -> datetime:
    """Two periods before the current one, which began ten days ago; on a day of the
    month every month has, so billing's periods and the gateway's step alike."""
    start = add_months(datetime.now(UTC).replace(microsecond=0) - timedelta(days=10), -2)
    return start - timedelta(days=max(0, start.day - 28))


async def _storm(place: Estate, total: int) -> Outcome:
    periods = [add_months(_first_period_start(), n) for n in range(4)]
    chance = random.Random(17)
    async with httpx.AsyncClient(
        base_url=place.env["LEDGERGATE_BILLING__URL"],
        headers={"Authorization": f"Bearer {BILLING_KEY}"},
        timeout=60,
    ) as billing:
        clock = await _billing_post(
            billing, "/v1/test_helpers/test_clocks", frozen_time=_unix(periods[0])
        )

        async def billing_at(at: datetime) -> None:
            path = f"/v1/test_helpers/test_clocks/{clock['id']}/advance"
            await _billing_post(billing, path, frozen_time=_unix(at))

        place.start_gateway()  # migrates and seeds the demo estate
        metered = await _order(place, periods)
        events = [_event(metered, chance, n) for n in range(total)]
        split = total * 2 // 3
        first = Storm.of(events[:split], chance)
        await _killing_storm(place, first)
        await billing_at(periods[1] - MARGIN)
        await place.work_once()  # reports the first period
        await billing_at(periods[2] - MARGIN)  # renews: the first period invoiced
        second = Storm.of(events[split:], chance)
        async with client(place.base, place.headers()) as http:
            await _send_all(http, second.batches, second.copies)
        await place.work_once()  # closes the first period, reports the second
        await billing_at(periods[3] - MARGIN)  # the second period invoiced
        await place.work_once()  # closes the second, reports the third
        await billing_at(periods[3] + MARGIN)  # the third period invoiced
        async with client(place.base, place.headers()) as http:
            statement = await http.get(f"/v1/subscriptions/{metered.subscription_id}/usage")
        place.stop_gateway()
        billed = await _billed(billing, place, metered)
    expected = _expected(events, split, periods)
    stored, stored_sum = await _stored(place, metered.subscription_id)
    total_units = sum(e["quantity"] for e in events)
    ingested = (
        sum(Decimal(p["ingested"]) for p in statement.json()["periods"])
        if statement.status_code == 200
        else None
    )
    answers = first.answers + second.answers
    summary = (
        f"{total} distinct events ({total_units} units, up to two periods late) in "
        f"{len(first.batches) + len(second.batches)} batches sent "
        f"{len(first.copies) + len(second.copies)} times; SIGKILL after {first.kill_after} "
        f"answers, {len(first.unanswered)} copies sent again; stored {stored} events, "
        f"{stored_sum} units; ingested {ingested}; accepted "
        f"{sum(a.counts[0] for a in answers)}, duplicate {sum(a.counts[1] for a in answers)}; "
        f"per period expected {expected}, billing reported "
        f"{[r for r, _ in billed]}, invoiced {[i for _, i in billed]}"
    )
    details = []
    if not first.killed:
        details.append("the gateway did not die of the SIGKILL")
    if not first.unanswered:
        details.append("the kill came too late to interrupt any send")
    if (stored, stored_sum) != (total, total_units):
        details.append(
            f"stored {stored} events of {stored_sum} units, sent {total} of {total_units}"
        )
    if ingested != total_units:
        details.append(f"the usage statement says {ingested} ingested, sent {total_units}")
    if [r for r, _ in billed] != expected:
        details.append(f"billing holds {[r for r, _ in billed]} per period, expected {expected}")
    if [i for _, i in billed] != expected:
        details.append(f"billing invoiced {[i for _, i in billed]} per period, expected {expected}")
    if failed := [a for a in answers if a.status != 200 or a.counts[2]]:
        # status 0: still no answer after every resend
        details.append(f"{len(failed)} sends not answered 200 with none rejected, e.g.")
        details.extend(f"{a.status} {a.counts} {a.problem}" for a in failed[:3])
    return Outcome(CHECK, not details, summary, details)


def _unix(at: datetime) -> int:
    return int(at.timestamp())


async def _billing_post(billing: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await billing.post(path, data=params)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


async def _order(place: Estate, periods: list[datetime]) -> Metered:
    """A customer's order through the gateway, placed when billing's clock says the first
    period starts, with a metered price for `api_calls` on its product."""
    async with client(place.base, place.headers()) as http:
        customer = await http.post(
            "/v1/customers",
            json={
                "name": "Storm Metering",
                "email": "usage@storm.example",
                "legal_entity_id": demo_id("legal_entity", 1),
                "currency": "USD",
            },
            headers={"Idempotency-Key": "usage-storm-customer"},
        )
        customer.raise_for_status()
        ordered = await http.post(
            "/v1/subscriptions",
            json={"customer_id": customer.json()["id"], "price_id": FLAT_PRICE, "quantity": 1},
            headers={"Idempotency-Key": "usage-storm-order"},
        )
        ordered.raise_for_status()
    subscription_id = ordered.json()["subscription"]["id"]
    async with place.session() as session:
        # The gateway stamps its own (wall) clock on the order; billing's says the first
        # period's start, where the subscription's term begins.
        await session.execute(
            update(SubscriptionRow)
            .where(SubscriptionRow.id == subscription_id)
            .values(created_at=periods[0])
        )
        await session.commit()
    price_id = await _metered_price(place.database_url)
    return Metered(subscription_id, price_id, customer.json()["id"], periods[2])


async def _metered_price(url: str) -> str:
    engine = create_engine(url, pool_size=1)
    try:
        return await metered_price(create_sessionmaker(engine), "api_calls")
    finally:
        await engine.dispose()


def _event(metered: Metered, chance: random.Random, n: int) -> Event:
    """An event of the current period, or one or two periods late."""
    start = add_months(metered.anchor, -chance.randint(0, 2))
    at = start + timedelta(minutes=chance.randint(1, 9 * 24 * 60))
    return metered.event(f"storm-{n}", quantity=chance.randint(1, 9), timestamp=at.isoformat())


def _expected(events: list[Event], split: int, periods: list[datetime]) -> list[int]:
    """Per billing period, the units its invoice must bill: its own events, and those of
    the first period that arrived after it was invoiced (the second storm's)."""

    def period_of(event: Event) -> int:
        at = datetime.fromisoformat(event["timestamp"])
        return next(n for n in range(3) if periods[n] <= at < periods[n + 1])

    expected = [0, 0, 0]
    for number, event in enumerate(events):
        period = period_of(event)
        carried = number >= split and period == 0
        expected[1 if carried else period] += event["quantity"]
    return expected


async def _killing_storm(place: Estate, storm: Storm) -> None:
    """Send every copy; SIGKILL the gateway a quarter in, start it again, send again
    what got no answer."""
    storm.kill_after = max(1, len(storm.copies) // 4)
    async with client(place.base, place.headers()) as http:

        async def kill_at(answered: int) -> None:
            if answered == storm.kill_after and place.gateway is not None:
                os.kill(place.gateway.pid, signal.SIGKILL)

        await _send_all(http, storm.batches, storm.copies, on_answer=kill_at)
    assert place.gateway is not None
    storm.killed = place.gateway.wait(timeout=10) == -signal.SIGKILL
    storm.unanswered = [Send(c.batch) for c in storm.copies if c.status == 0]
    place.start_gateway()
    async with client(place.base, place.headers()) as http:
        await _send_all(http, storm.batches, storm.unanswered)
        for _ in range(RESENDS):  # a client sends again what got no answer (a timeout)
            await _send_all(http, storm.batches, [c for c in storm.unanswered if c.status == 0])


async def _billed(
    billing: httpx.AsyncClient, place: Estate, metered: Metered
) -> list[tuple[int, int]]:
    """Per invoiced period, oldest first: (the usage billing held, what its invoice billed)."""
    async with place.session() as session:
        refs = (
            await session.execute(
                select(SubscriptionRow.billing_ref).where(
                    SubscriptionRow.id == metered.subscription_id
                )
            )
        ).scalar_one()
    subscription = (await billing.get(f"/v1/subscriptions/{refs}")).json()
    [item] = [
        i
        for i in subscription["items"]["data"]
        if i["price"]["recurring"].get("usage_type") == "metered"
    ]
    summaries = (
        await billing.get(
            f"/v1/subscription_items/{item['id']}/usage_record_summaries", params={"limit": 100}
        )
    ).json()["data"]
    billed = []
    for summary in reversed(summaries):
        if summary["invoice"] is None:
            continue
        invoice = (await billing.get(f"/v1/invoices/{summary['invoice']}")).json()
        invoiced = sum(
            line["quantity"]
            for line in invoice["lines"]["data"]
            if line.get("subscription_item") == item["id"]
        )
        billed.append((summary["total_usage"], invoiced))
    return billed


async def _send_all(
    http: httpx.AsyncClient,
    batches: list[list[dict[str, Any]]],
    copies: list[Send],
    *,
    on_answer: Callable[[int], Awaitable[None]] | None = None,
) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)
    answered = 0

    async def send(copy: Send) -> None:
        nonlocal answered
        body = {"events": batches[copy.batch]}
        async with gate:
            try:
                response = await http.post("/v1/usage-events", json=body)
                while response.status_code == 429:  # too many uploads at once: as asked
                    await asyncio.sleep(float(response.headers.get("Retry-After") or 1))
                    response = await http.post("/v1/usage-events", json=body)
            except httpx.TransportError:
                return  # no answer: sent again
        copy.status = response.status_code
        if response.status_code == 200:
            body = response.json()
            copy.counts = (body["accepted"], body["duplicate"], body["rejected"])
        else:
            copy.problem = response.text[:300]
        answered += 1
        if on_answer is not None:
            await on_answer(answered)

    await asyncio.gather(*(send(copy) for copy in copies))


async def _stored(place: Estate, subscription_id: str) -> tuple[int, int]:
    """Distinct events stored for the subscription, and their whole units."""
    async with place.session() as session:
        count, micros = (
            await session.execute(
                select(func.count(), func.coalesce(func.sum(UsageEventRow.quantity_micros), 0))
                .select_from(UsageEventRow)
                .where(UsageEventRow.subscription_id == subscription_id)
            )
        ).one()
    return int(count), int(micros) // MICROS
