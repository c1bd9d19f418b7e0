"""Usage duplicate storm: usage batches sent 1 to 3 times at once against a served
gateway, events up to two billing periods late, the gateway SIGKILLed mid-ingest.

A metered subscription whose current period began ten days ago, created two periods
earlier, gets `events` distinct events spread over its three periods, in batches of
`BATCH`; every batch is sent one to three times concurrently. The gateway is killed
once a quarter of the sends are answered; it is started again on the same database and
the client sends every copy that got no answer again (and again, up to `RESENDS`
times, those that still got none). At the end the distinct events
stored, and the `ingested` totals of `GET /v1/subscriptions/{id}/usage`, must equal the
sum over the distinct events sent, exactly: none lost, none counted twice.

Reporting and invoicing are not driven here: the billing sandbox process runs on the
wall clock, so it cannot renew a period on demand. The in-process test
`test_a_duplicate_storm_a_crashed_reporter_and_usage_two_periods_late_bill_each_event_once`
drives the same storm through reports and renewals.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from chaos.estate import Estate, estate
from chaos.load import client
from chaos.report import Outcome
from core.db import create_engine, create_sessionmaker
from core.models.usage_event import UsageEventRow
from process_apis.usage.periods import add_months
from tests.support.usage import Metered, metered_subscription

CHECK = "usage duplicate storm"
BATCH = 100
CONCURRENCY = 20
RESENDS = 3
MICROS = 1_000_000


@dataclass
class Send:
    """One copy of a batch, and what the gateway answered (status 0: no answer)."""

    batch: int
    status: int = 0
    counts: tuple[int, int, int] = (0, 0, 0)  # accepted, duplicate, rejected
    problem: str = ""


def run(events: int, logs: Path) -> Outcome:
    with estate("usage", logs) as place:
        return asyncio.run(_storm(place, events))


async def _storm(place: Estate, total: int) -> Outcome:
    base = place.start_gateway()  # migrates and seeds the demo estate
    metered = await _subscription(place)
    chance = random.Random(17)
    events = [_event(metered, chance, n) for n in range(total)]
    batches = [events[n : n + BATCH] for n in range(0, total, BATCH)]
    # A batch's copies side by side, so they are in flight at once.
    copies = [Send(i) for i in range(len(batches)) for _ in range(chance.randint(1, 3))]
    kill_after = max(1, len(copies) // 4)

    async with client(base, place.headers()) as http:

        async def kill_at(answered: int) -> None:
            if answered == kill_after and place.gateway is not None:
                os.kill(place.gateway.pid, signal.SIGKILL)

        await _send_all(http, batches, copies, on_answer=kill_at)
    assert place.gateway is not None
    killed = place.gateway.wait(timeout=10) == -signal.SIGKILL
    unanswered = [Send(c.batch) for c in copies if c.status == 0]

    base = place.start_gateway()
    async with client(base, place.headers()) as http:
        await _send_all(http, batches, unanswered)
        for _ in range(RESENDS):  # a client sends again what got no answer (a timeout)
            await _send_all(http, batches, [c for c in unanswered if c.status == 0])
        statement = await http.get(f"/v1/subscriptions/{metered.subscription_id}/usage")
    place.stop_gateway()

    expected = sum(e["quantity"] for e in events)
    stored, stored_sum = await _stored(place, metered.subscription_id)
    answers = [c for c in copies if c.status] + unanswered
    ingested = (
        sum(Decimal(p["ingested"]) for p in statement.json()["periods"])
        if statement.status_code == 200
        else None
    )
    summary = (
        f"{total} distinct events ({expected} units, up to two periods late) in "
        f"{len(batches)} batches sent {len(copies)} times; SIGKILL after {kill_after} "
        f"answers, {len(unanswered)} copies sent again; stored {stored} events, "
        f"{stored_sum} units; ingested {ingested}; accepted "
        f"{sum(a.counts[0] for a in answers)}, duplicate {sum(a.counts[1] for a in answers)}"
    )
    details = []
    if not killed:
        details.append("the gateway did not die of the SIGKILL")
    if not unanswered:
        details.append("the kill came too late to interrupt any send")
    if (stored, stored_sum) != (total, expected):
        details.append(f"stored {stored} events of {stored_sum} units, sent {total} of {expected}")
    if ingested != expected:
        details.append(f"the usage statement says {ingested} ingested, sent {expected}")
    if failed := [a for a in answers if a.status != 200 or a.counts[2]]:
        # status 0: still no answer after every resend
        details.append(f"{len(failed)} sends not answered 200 with none rejected, e.g.")
        details.extend(f"{a.status} {a.counts} {a.problem}" for a in failed[:3])
    return Outcome(CHECK, not details, summary, details)


async def _subscription(place: Estate) -> Metered:
    engine = create_engine(place.database_url, pool_size=1)
    try:
        return await metered_subscription(create_sessionmaker(engine), periods_before=2)
    finally:
        await engine.dispose()


def _event(metered: Metered, chance: random.Random, n: int) -> dict[str, Any]:
    """An event of the current period, or one or two periods late."""
    start = add_months(metered.anchor, -chance.randint(0, 2))
    at = start + timedelta(minutes=chance.randint(1, 9 * 24 * 60))
    return metered.event(f"storm-{n}", quantity=chance.randint(1, 9), timestamp=at.isoformat())


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
