"""The delivery loop the worker runs: claim due messages, send them, log every attempt.

Claiming takes due messages of enabled endpoints with `FOR UPDATE SKIP LOCKED` (so
workers and replicas cooperate) and leases them by moving `next_attempt_at` past the
attempt's timeout; a worker that dies mid-attempt leaves the message due again when
the lease ends. Sending happens outside any transaction; a batch's results are then
recorded together, in one transaction. A failed attempt is retried
after the schedule's next wait (with ±10 % jitter) until the schedule runs out.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.ids import new_id
from core.key_encryption import KeyEncryption
from core.models.base import utcnow
from core.models.webhook_attempt import WebhookAttemptRow
from core.models.webhook_endpoint import EndpointStatus, WebhookEndpointRow
from core.models.webhook_message import MessageStatus, WebhookMessageRow
from core.settings import WebhookSettings
from events.webhooks import health
from events.webhooks.attempt import DELIVERED, GONE, AttemptResult, Job, attempt
from events.webhooks.clients import HostClients
from events.webhooks.context import WebhookContext
from events.webhooks.guard import UrlGuard
from events.webhooks.metrics import DELIVERIES, DELIVERY_SECONDS
from events.webhooks.secrets import signing_secrets

JITTER = 0.1
LEASE_MARGIN = timedelta(seconds=60)


def retry_delay(
    schedule: Sequence[int], attempt_number: int, *, rng: random.Random
) -> timedelta | None:
    """The wait after failed attempt `attempt_number` (1-based); None when none is left."""
    if attempt_number > len(schedule):
        return None
    seconds = schedule[attempt_number - 1]
    return timedelta(seconds=seconds * rng.uniform(1 - JITTER, 1 + JITTER))


@dataclass(frozen=True)
class DeliveryPass:
    """What one pass did: messages attempted, and whether it took a full batch."""

    attempted: int
    full: bool


class WebhookDelivery:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: WebhookSettings,
        *,
        encryption: KeyEncryption,
        guard: UrlGuard,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.encryption = encryption
        self.guard = guard
        self.clients = HostClients(timeout=settings.timeout_seconds, transport=transport)
        self.clock = clock
        self.rng = rng or random.Random()
        self.lease = timedelta(seconds=settings.timeout_seconds) + LEASE_MARGIN

    @classmethod
    def from_context(cls, context: WebhookContext) -> WebhookDelivery:
        return cls(
            context.sessionmaker,
            context.settings,
            encryption=context.encryption,
            guard=context.guard,
            clock=context.clock,
        )

    async def aclose(self) -> None:
        await self.clients.aclose()

    async def run_once(self) -> DeliveryPass:
        """Claim and deliver one batch of due messages, then record the batch's results."""
        await self.clients.trim()
        jobs = await self._claim()
        results = await asyncio.gather(*(self._attempt(job) for job in jobs))
        if jobs:
            await self._record(list(zip(jobs, results, strict=True)))
        return DeliveryPass(len(jobs), full=len(jobs) >= self.settings.batch_size)

    async def _claim(self) -> list[Job]:
        now = self.clock()
        enabled = select(WebhookEndpointRow.id).where(
            WebhookEndpointRow.status == EndpointStatus.ENABLED
        )
        async with self.sessionmaker.begin() as session:
            messages = list(
                await session.scalars(
                    select(WebhookMessageRow)
                    .where(
                        WebhookMessageRow.status == MessageStatus.PENDING,
                        WebhookMessageRow.next_attempt_at <= now,
                        WebhookMessageRow.endpoint_id.in_(enabled),
                    )
                    .order_by(WebhookMessageRow.next_attempt_at)
                    .limit(self.settings.batch_size)
                    .with_for_update(skip_locked=True)
                )
            )
            ids = {message.endpoint_id for message in messages}
            endpoints = {
                endpoint.id: endpoint
                for endpoint in await session.scalars(
                    select(WebhookEndpointRow).where(WebhookEndpointRow.id.in_(ids))
                )
            }
            for message in messages:
                message.next_attempt_at = now + self.lease
            return [self._job(message, endpoints[message.endpoint_id], now) for message in messages]

    def _job(self, message: WebhookMessageRow, endpoint: WebhookEndpointRow, now: datetime) -> Job:
        return Job(
            message_id=message.id,
            endpoint_id=endpoint.id,
            event_id=message.event_id,
            url=endpoint.url,
            secrets=signing_secrets(endpoint, self.encryption, now),
            payload=message.payload,
            attempt=message.attempts + 1,
        )

    async def _attempt(self, job: Job) -> AttemptResult:
        result = await attempt(job, clients=self.clients, guard=self.guard, timestamp=utcnow())
        DELIVERIES.labels(result.outcome).inc()
        DELIVERY_SECONDS.labels(result.outcome).observe(result.duration_ms / 1000)
        return result

    async def _record(self, outcomes: list[tuple[Job, AttemptResult]]) -> None:
        """Log a batch's attempts and move its messages and endpoints on, in one transaction.

        One transaction a batch, not one a message: the rows of an endpoint are locked
        once, and its health follows the results in turn as before.
        """
        now = self.clock()
        async with self.sessionmaker.begin() as session:
            messages = await _locked(
                session, WebhookMessageRow, {job.message_id for job, _ in outcomes}
            )
            endpoints = await _locked(
                session, WebhookEndpointRow, {job.endpoint_id for job, _ in outcomes}
            )
            for job, result in outcomes:
                message, endpoint = messages.get(job.message_id), endpoints.get(job.endpoint_id)
                if message is not None and endpoint is not None:
                    session.add(_attempt_row(job, result, now))
                    await self._apply(session, message, endpoint, job.attempt, result, now)

    async def _apply(
        self,
        session: AsyncSession,
        message: WebhookMessageRow,
        endpoint: WebhookEndpointRow,
        attempt_number: int,
        result: AttemptResult,
        now: datetime,
    ) -> None:
        """Move `message` and its endpoint's health on after attempt `attempt_number`."""
        message.attempts = attempt_number
        if result.outcome == DELIVERED:
            message.status = MessageStatus.DELIVERED
            message.delivered_at = now
            message.next_attempt_at = None
            health.record_success(endpoint)
            return
        if result.outcome == GONE:
            message.status = MessageStatus.FAILED
            message.next_attempt_at = None
            if endpoint.status == EndpointStatus.ENABLED:
                await health.disable(session, endpoint, health.GONE, now)
            return
        self._schedule_retry(message, attempt_number, now)
        await health.record_failure(session, endpoint, now, self.settings)

    def _schedule_retry(
        self, message: WebhookMessageRow, attempt_number: int, now: datetime
    ) -> None:
        delay = retry_delay(self.settings.retry_schedule_seconds, attempt_number, rng=self.rng)
        if delay is None:
            message.status = MessageStatus.FAILED
            message.next_attempt_at = None
        else:
            message.next_attempt_at = now + delay


def _attempt_row(job: Job, result: AttemptResult, now: datetime) -> WebhookAttemptRow:
    return WebhookAttemptRow(
        id=new_id("webhook_attempt"),
        message_id=job.message_id,
        endpoint_id=job.endpoint_id,
        attempted_at=now,
        outcome=result.outcome,
        status_code=result.status_code,
        duration_ms=result.duration_ms,
        response_excerpt=result.excerpt,
        error=result.error,
    )


Row = TypeVar("Row", WebhookMessageRow, WebhookEndpointRow)


async def _locked(session: AsyncSession, model: type[Row], ids: set[str]) -> dict[str, Row]:
    """The rows of `model` with `ids`, locked in id order (so two batches never deadlock)."""
    rows = await session.scalars(
        select(model).where(model.id.in_(ids)).order_by(model.id).with_for_update()
    )
    return {row.id: row for row in rows}
