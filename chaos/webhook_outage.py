"""A webhook receiver down for ten minutes and back, on a simulated clock.

One loopback endpoint; events recorded through the outbox and kept for it by the relay's
fan-out, delivered by the gateway's delivery loop, whose clock (and so its retry
schedule) is simulated: a third is delivered, the receiver goes down (its port closed,
its connections dropped), a third is recorded while ten minutes pass, it comes back and
the last third is recorded, and time passes from one due retry to the next until every
message is delivered. The receiver de-duplicates by `webhook-id` (the event id): nothing
may be missing and every subject must arrive in order.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.event_webhooks import OWNER
from bench.eventkit import Tally, events, new_tag, record
from bench.harness import free_port
from bench.receiver import Receiver
from chaos.eventkit import database, sessions
from chaos.report import Outcome
from core.key_encryption import KeyEncryption
from core.models.base import utcnow
from core.models.webhook_attempt import WebhookAttemptRow
from core.models.webhook_message import MessageStatus, WebhookMessageRow
from core.settings import AuthSettings, WebhookSettings
from events.envelope import CloudEvent
from events.relay import Relay
from events.webhooks.attempt import DELIVERED
from events.webhooks.context import WebhookContext
from events.webhooks.delivery import WebhookDelivery
from events.webhooks.fanout import WebhookFanout
from events.webhooks.guard import UrlGuard
from events.webhooks.schemas import WebhookEndpointCreate
from events.webhooks.service import create_endpoint

CHECK = "webhook receiver down 10 minutes"
SUBJECTS = 60
DOWN = timedelta(minutes=10)
STEP = timedelta(seconds=30)
GIVE_UP = timedelta(days=2)


class SimulatedClock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


def run(count: int, logs: Path) -> Outcome:  # noqa: ARG001 - every check gets the logs folder
    with database() as url:
        return asyncio.run(_outage(url, count))


async def _outage(url: str, count: int) -> Outcome:
    tag, clock, tally = new_tag("wh"), SimulatedClock(), Tally()
    receiver = Receiver(free_port(), tally.take)
    recorded = list(events(tag, 0, count, SUBJECTS))
    third = count // 3
    async with sessions(url) as sessionmaker:
        context = WebhookContext(
            sessionmaker=sessionmaker,
            settings=WebhookSettings(allow_private_addresses=True),
            encryption=KeyEncryption.from_settings(AuthSettings()),
            guard=UrlGuard(https_only=False, allow_private=True),
            clock=clock,
        )
        url_of = f"http://127.0.0.1:{receiver.port}/hooks"
        await create_endpoint(context, OWNER, WebhookEndpointCreate(url=url_of))
        relay = Relay(sessionmaker, [WebhookFanout(sessionmaker, clock=clock)])
        delivery = WebhookDelivery.from_context(context)
        try:
            await receiver.start()
            await _step(sessionmaker, relay, delivery, recorded[:third])
            await receiver.stop()
            await _step(sessionmaker, relay, delivery, recorded[third : 2 * third])
            await _time_passes(sessionmaker, delivery, clock, until=clock.now + DOWN)
            await receiver.start()
            await _step(sessionmaker, relay, delivery, recorded[2 * third :])
            began = clock.now
            await _time_passes(sessionmaker, delivery, clock, until=clock.now + GIVE_UP)
        finally:
            await receiver.stop()
            await delivery.aclose()
        pending = await _pending(sessionmaker)
        failed = await _failed_attempts(sessionmaker)
    expected = [event.id for event in recorded]
    summary = (
        f"{tally.line(expected)}; {failed} failed attempts logged while it was down, "
        f"all delivered {(clock.now - began).total_seconds() / 60:.0f} simulated minutes "
        "after it came back"
    )
    details = [f"{pending} messages still pending"] if pending else []
    return Outcome(CHECK, tally.passed(expected) and not pending, summary, details)


async def _step(
    sessionmaker: async_sessionmaker[AsyncSession],
    relay: Relay,
    delivery: WebhookDelivery,
    batch: list[CloudEvent],
) -> None:
    """Record `batch` in transactions of ten, relay it to the fan-out, deliver what is due."""
    for first in range(0, len(batch), 10):
        await record(sessionmaker, batch[first : first + 10])
    while (await relay.run_once()).full:
        pass
    while (await delivery.run_once()).attempted:
        pass


async def _time_passes(
    sessionmaker: async_sessionmaker[AsyncSession],
    delivery: WebhookDelivery,
    clock: SimulatedClock,
    *,
    until: datetime,
) -> None:
    """Move the clock to each next due attempt (at least `STEP` on) up to `until`,
    delivering what is due."""
    while clock.now < until:
        due = await _next_due(sessionmaker)
        if due is None:
            return
        clock.now = min(until, max(due, clock.now + STEP))
        while (await delivery.run_once()).attempted:
            pass


async def _next_due(sessionmaker: async_sessionmaker[AsyncSession]) -> datetime | None:
    async with sessionmaker() as session:
        return await session.scalar(
            select(func.min(WebhookMessageRow.next_attempt_at)).where(
                WebhookMessageRow.status == MessageStatus.PENDING
            )
        )


async def _pending(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        found = await session.scalar(
            select(func.count()).where(WebhookMessageRow.status == MessageStatus.PENDING)
        )
    return int(found or 0)


async def _failed_attempts(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        found = await session.scalar(
            select(func.count()).where(WebhookAttemptRow.outcome != DELIVERED)
        )
    return int(found or 0)
