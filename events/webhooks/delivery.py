"""The delivery loop the worker runs: claim due messages, send them, log every attempt.

Claiming takes due messages of enabled endpoints, oldest first, with `FOR UPDATE SKIP
LOCKED` (so workers and replicas cooperate), and leases them by moving
`next_attempt_at` past the time the pass may take. A message is claimed only when
every earlier pending message of its subject for its endpoint is claimed with it: a
delivery never overtakes an earlier one of its subject that failed and waits for its
retry, or that another worker is sending. A worker that dies mid-attempt leaves its
messages due again when the lease ends.

Each endpoint URL is checked by the SSRF guard once a pass, on the addresses it
resolves to then, and the pass's deliveries go to the address checked. Sending happens
outside any transaction: each subject's messages in turn, stopping at
the first that is not delivered (the rest are released, due again but held behind it),
the subjects side by side within each host's concurrency. No attempt starts after the
pass's `timeout_seconds`, so every attempt ends within the lease. A batch's results are
then recorded together, in one transaction. A failed attempt is retried after the
schedule's next wait (with ±10 % jitter) until the schedule runs out.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import Subquery, and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import load_only
from sqlalchemy.orm.interfaces import ORMOption

from core.ids import new_id
from core.key_encryption import KeyEncryption
from core.models.base import utcnow
from core.models.webhook_attempt import WebhookAttemptRow
from core.models.webhook_endpoint import EndpointStatus, WebhookEndpointRow
from core.models.webhook_message import MessageStatus, WebhookMessageRow
from core.settings import WebhookSettings
from events.webhooks import health
from events.webhooks.attempt import DELIVERED, GONE, AttemptResult, Job, attempt
from events.webhooks.clients import HostClients, Post
from events.webhooks.context import WebhookContext
from events.webhooks.errors import WebhookUrlRefused
from events.webhooks.guard import Target, UrlGuard
from events.webhooks.metrics import DELIVERIES, DELIVERY_SECONDS
from events.webhooks.secrets import signing_secrets

JITTER = 0.1
LEASE_MARGIN = timedelta(seconds=60)

# A claimed job and what its attempt came to; None when it was not sent this pass.
Outcome = tuple[Job, AttemptResult | None]
# Where a pass delivers each endpoint URL, or why it may not.
Targets = dict[str, Target | WebhookUrlRefused]


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
        post: Post | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.encryption = encryption
        self.guard = guard
        self.clients = HostClients(
            timeout=settings.timeout_seconds, concurrency=settings.endpoint_concurrency
        )
        self.post = post or self.clients.post  # tests: a receiver in the same process
        self.clock = clock
        self.rng = rng or random.Random()
        # Attempts start within one timeout of the claim and last at most another.
        self.lease = 2 * timedelta(seconds=settings.timeout_seconds) + LEASE_MARGIN

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
        jobs, claimed_at = await self._claim()
        deadline = time.monotonic() + self.settings.timeout_seconds
        targets = await self._resolve({job.url for job in jobs})
        sent = await asyncio.gather(
            *(self._send(queue, targets, deadline) for queue in _queues(jobs))
        )
        outcomes = [outcome for queue in sent for outcome in queue]
        if jobs:
            await self._record(outcomes, released_at=claimed_at)
        return DeliveryPass(
            sum(result is not None for _, result in outcomes),
            full=len(jobs) >= self.settings.batch_size,
        )

    async def _claim(self) -> tuple[list[Job], datetime]:
        now = self.clock()
        enabled = select(WebhookEndpointRow.id).where(
            WebhookEndpointRow.status == EndpointStatus.ENABLED
        )
        blocked = _blocked(now)
        async with self.sessionmaker.begin() as session:
            found = list(
                await session.scalars(
                    select(WebhookMessageRow)
                    .outerjoin(
                        blocked,
                        and_(
                            blocked.c.endpoint_id == WebhookMessageRow.endpoint_id,
                            blocked.c.subject == WebhookMessageRow.subject,
                        ),
                    )
                    .where(
                        WebhookMessageRow.status == MessageStatus.PENDING,
                        WebhookMessageRow.next_attempt_at <= now,
                        WebhookMessageRow.endpoint_id.in_(enabled),
                        or_(
                            blocked.c.first.is_(None), WebhookMessageRow.position < blocked.c.first
                        ),
                    )
                    .order_by(WebhookMessageRow.position)
                    .limit(self.settings.batch_size)
                    .with_for_update(of=WebhookMessageRow, skip_locked=True)
                )
            )
            messages = await _in_order(session, found)
            ids = {message.endpoint_id for message in messages}
            endpoints = {
                endpoint.id: endpoint
                for endpoint in await session.scalars(
                    select(WebhookEndpointRow).where(WebhookEndpointRow.id.in_(ids))
                )
            }
            secrets = {
                endpoint.id: signing_secrets(endpoint, self.encryption, now)
                for endpoint in endpoints.values()
            }
            if messages:  # leased in one statement, not an UPDATE a message
                await session.execute(
                    update(WebhookMessageRow)
                    .where(WebhookMessageRow.id.in_([message.id for message in messages]))
                    .values(next_attempt_at=now + self.lease)
                    .execution_options(synchronize_session=False)
                )
            jobs = [
                _job(message, endpoints[message.endpoint_id], secrets[message.endpoint_id])
                for message in messages
            ]
            return jobs, now

    async def _resolve(self, urls: set[str]) -> Targets:
        """Each URL checked once a pass, on the addresses its host resolves to now: every
        delivery of the pass goes to an address checked less than a timeout before."""
        targets: Targets = {}
        for url in urls:
            try:
                targets[url] = await self.guard.resolve(url)
            except WebhookUrlRefused as refused:
                targets[url] = refused
        return targets

    async def _send(self, queue: list[Job], targets: Targets, deadline: float) -> list[Outcome]:
        """One subject's jobs for one endpoint in turn, up to the first not delivered or
        the deadline; the jobs not sent have no result."""
        outcomes: list[Outcome] = []
        target = targets[queue[0].url]
        host = target.host_header if isinstance(target, Target) else queue[0].url
        for job in queue:
            async with self.clients.slot(host):
                if time.monotonic() > deadline:
                    break
                result = await self._attempt(job, target)
            outcomes.append((job, result))
            if result.outcome != DELIVERED:
                break
        return outcomes + [(job, None) for job in queue[len(outcomes) :]]

    async def _attempt(self, job: Job, target: Target | WebhookUrlRefused) -> AttemptResult:
        result = await attempt(job, target, post=self.post, timestamp=utcnow())
        DELIVERIES.labels(result.outcome).inc()
        DELIVERY_SECONDS.labels(result.outcome).observe(result.duration_ms / 1000)
        return result

    async def _record(self, outcomes: list[Outcome], *, released_at: datetime) -> None:
        """Log a batch's attempts and move its messages and endpoints on, in one transaction;
        the messages not sent are due again at `released_at`.

        One transaction a batch, not one a message: the rows of an endpoint are locked
        once, and its health follows the results in turn as before. The messages are
        locked without their payloads (only what decides their next state is read), and
        the attempts are logged in one multi-row insert.
        """
        now = self.clock()
        attempts: list[dict[str, object]] = []
        async with self.sessionmaker.begin() as session:
            messages = await _locked(
                session,
                WebhookMessageRow,
                {job.message_id for job, _ in outcomes},
                load_only(WebhookMessageRow.id, WebhookMessageRow.status),
            )
            endpoints = await _locked(
                session, WebhookEndpointRow, {job.endpoint_id for job, _ in outcomes}
            )
            for job, result in outcomes:
                message, endpoint = messages.get(job.message_id), endpoints.get(job.endpoint_id)
                if result is None:
                    if message is not None and message.status == MessageStatus.PENDING:
                        message.next_attempt_at = released_at
                elif message is not None and endpoint is not None:
                    attempts.append(_attempt_values(job, result, now))
                    await self._apply(session, message, endpoint, job.attempt, result, now)
            if attempts:
                await session.execute(insert(WebhookAttemptRow), attempts)

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


def _job(message: WebhookMessageRow, endpoint: WebhookEndpointRow, secrets: tuple[str, ...]) -> Job:
    return Job(
        message_id=message.id,
        endpoint_id=endpoint.id,
        event_id=message.event_id,
        subject=message.subject,
        url=endpoint.url,
        secrets=secrets,
        payload=message.payload,
        attempt=message.attempts + 1,
    )


def _attempt_values(job: Job, result: AttemptResult, now: datetime) -> dict[str, object]:
    return {
        "id": new_id("webhook_attempt"),
        "message_id": job.message_id,
        "endpoint_id": job.endpoint_id,
        "attempted_at": now,
        "outcome": result.outcome,
        "status_code": result.status_code,
        "duration_ms": result.duration_ms,
        "response_excerpt": result.excerpt,
        "error": result.error,
    }


def _blocked(now: datetime) -> Subquery:
    """Per endpoint and subject, the first pending message that is not due (it waits for
    its retry, or another worker holds it): the later ones of its queue are held back.

    One pass over the pending messages a claim; a check per due message against the
    earlier ones of its queue cost a claim time growing with the square of the backlog.
    """
    return (
        select(
            WebhookMessageRow.endpoint_id,
            WebhookMessageRow.subject,
            func.min(WebhookMessageRow.position).label("first"),
        )
        .where(
            WebhookMessageRow.status == MessageStatus.PENDING,
            WebhookMessageRow.next_attempt_at > now,
        )
        .group_by(WebhookMessageRow.endpoint_id, WebhookMessageRow.subject)
        .subquery()
    )


async def _in_order(
    session: AsyncSession, found: list[WebhookMessageRow]
) -> list[WebhookMessageRow]:
    """`found` less the messages behind an earlier pending one of their queue that is not
    in `found` (another worker locked it as this claim skipped it)."""
    if not found:
        return []
    missing = await session.execute(
        select(
            WebhookMessageRow.endpoint_id,
            WebhookMessageRow.subject,
            func.min(WebhookMessageRow.position),
        )
        .where(
            WebhookMessageRow.status == MessageStatus.PENDING,
            WebhookMessageRow.endpoint_id.in_({message.endpoint_id for message in found}),
            WebhookMessageRow.subject.in_({message.subject for message in found}),
            WebhookMessageRow.position < max(message.position for message in found),
            WebhookMessageRow.id.not_in([message.id for message in found]),
        )
        .group_by(WebhookMessageRow.endpoint_id, WebhookMessageRow.subject)
    )
    first_missing = {(endpoint, subject): position for endpoint, subject, position in missing}
    return [
        message
        for message in found
        if message.position
        < first_missing.get((message.endpoint_id, message.subject), message.position + 1)
    ]


def _queues(jobs: list[Job]) -> list[list[Job]]:
    """`jobs` (in position order) grouped by endpoint and subject, order kept."""
    queues: dict[tuple[str, str], list[Job]] = {}
    for job in jobs:
        queues.setdefault((job.endpoint_id, job.subject), []).append(job)
    return list(queues.values())


Row = TypeVar("Row", WebhookMessageRow, WebhookEndpointRow)


async def _locked(
    session: AsyncSession, model: type[Row], ids: set[str], *options: ORMOption
) -> dict[str, Row]:
    """The rows of `model` with `ids`, locked in id order (so two batches never deadlock)."""
    rows = await session.scalars(
        select(model)
        .where(model.id.in_(ids))
        .order_by(model.id)
        .options(*options)
        .with_for_update()
    )
    return {row.id: row for row in rows}
