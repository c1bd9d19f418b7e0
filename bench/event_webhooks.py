"""Webhook deliveries to a local receiver, against the same signed POSTs made directly.

One endpoint on loopback (the private-address setting on), its messages kept by the
relay's fan-out; the receiver answers 204 from a process of its own. The gateway's
delivery loop (claim, sign, POST, log the attempt) runs until nothing is due; the
baselines send the same payloads with the same headers from one httpx client and from
one aiohttp session (the client the delivery uses), as many at a time as the delivery's
batch. The receiver counts each of the three runs apart: one POST a message each.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import aiohttp
import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.event_relay import SPAWN, Rate
from bench.eventkit import events
from bench.harness import free_port
from bench.receiver import serve_counting
from core.key_encryption import KeyEncryption
from core.models.base import utcnow
from core.models.webhook_endpoint import WebhookEndpointRow
from core.models.webhook_message import MessageStatus, WebhookMessageRow
from core.settings import AuthSettings, WebhookSettings
from events.webhooks.attempt import Job, signed_headers
from events.webhooks.context import WebhookContext
from events.webhooks.delivery import WebhookDelivery
from events.webhooks.fanout import WebhookFanout
from events.webhooks.guard import UrlGuard
from events.webhooks.schemas import WebhookEndpointCreate
from events.webhooks.secrets import signing_secrets
from events.webhooks.service import Owner, create_endpoint

OWNER = Owner(client_id="demo-platform", partner_id=None)


@dataclass(frozen=True)
class Received:
    """What the receiver counted over one run: POSTs, and distinct webhook ids."""

    posts: int
    ids: int


@dataclass(frozen=True)
class Deliveries:
    gateway: Rate
    direct: Rate  # httpx
    direct_aiohttp: Rate
    delivered: int
    received: Received  # by the gateway's run


def context(sessionmaker: async_sessionmaker[AsyncSession]) -> WebhookContext:
    """Webhooks as a development gateway has them: loopback receivers allowed."""
    return WebhookContext(
        sessionmaker=sessionmaker,
        settings=WebhookSettings(allow_private_addresses=True),
        encryption=KeyEncryption.from_settings(AuthSettings()),
        guard=UrlGuard(https_only=False, allow_private=True),
    )


@contextmanager
def receiver_process(port: int) -> Iterator[Callable[[], Received]]:
    """The counting receiver in a child process, and what it counted since the last call."""
    ours, theirs = SPAWN.Pipe()
    process = SPAWN.Process(target=serve_counting, args=(port, theirs), daemon=True)
    process.start()
    ours.recv()

    def count() -> Received:
        ours.send("count")
        return Received(*ours.recv())

    try:
        yield count
    finally:
        ours.send("stop")
        ours.recv()
        process.join(timeout=10)


async def measure(
    sessionmaker: async_sessionmaker[AsyncSession], tag: str, count: int
) -> Deliveries:
    """Keep `count` messages for one loopback endpoint, deliver them, then send them directly."""
    webhooks = context(sessionmaker)
    port = free_port()
    endpoint, _ = await create_endpoint(
        webhooks, OWNER, WebhookEndpointCreate(url=f"http://127.0.0.1:{port}/hooks")
    )
    fanout = WebhookFanout(sessionmaker)
    batch = list(events(tag, 0, count, 50))
    for first in range(0, count, 1000):
        await fanout.publish(batch[first : first + 1000])
    with receiver_process(port) as received:
        gateway = await _deliver_all(webhooks, count)
        by_gateway = received()
        jobs = await _jobs(webhooks, endpoint.id)
        window = webhooks.settings.batch_size
        direct = await _post_with_httpx(jobs, window)
        direct_aiohttp = await _post_with_aiohttp(jobs, window)
    async with sessionmaker() as session:
        delivered = await session.scalar(
            select(func.count()).where(WebhookMessageRow.status == MessageStatus.DELIVERED)
        )
    return Deliveries(gateway, direct, direct_aiohttp, int(delivered or 0), by_gateway)


async def _deliver_all(webhooks: WebhookContext, count: int) -> Rate:
    delivery = WebhookDelivery.from_context(webhooks)
    started = time.perf_counter()
    try:
        while (await delivery.run_once()).attempted:
            pass
    finally:
        await delivery.aclose()
    return Rate(count, time.perf_counter() - started)


async def _jobs(webhooks: WebhookContext, endpoint_id: str) -> list[tuple[str, Job]]:
    """The kept messages as signed jobs again, with the URL each goes to."""
    async with webhooks.sessionmaker() as session:
        messages = list(
            await session.scalars(
                select(WebhookMessageRow).where(WebhookMessageRow.endpoint_id == endpoint_id)
            )
        )
        endpoint = await session.get(WebhookEndpointRow, endpoint_id)
    assert endpoint is not None
    secrets = signing_secrets(endpoint, webhooks.encryption, utcnow())
    return [
        (
            endpoint.url,
            Job(
                message_id=message.id,
                endpoint_id=endpoint.id,
                event_id=message.event_id,
                subject=message.subject,
                url=endpoint.url,
                secrets=secrets,
                payload=message.payload,
                attempt=1,
            ),
        )
        for message in messages
    ]


async def _post_with_httpx(jobs: list[tuple[str, Job]], window: int) -> Rate:
    started = time.perf_counter()
    timeout = httpx.Timeout(10, pool=None)  # a window past the pool's 100 connections waits
    async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
        for first in range(0, len(jobs), window):
            await asyncio.gather(
                *(
                    client.post(
                        url, content=job.payload.encode(), headers=signed_headers(job, utcnow())
                    )
                    for url, job in jobs[first : first + window]
                )
            )
    return Rate(len(jobs), time.perf_counter() - started)


async def _post_with_aiohttp(jobs: list[tuple[str, Job]], window: int) -> Rate:
    async def post(session: aiohttp.ClientSession, url: str, job: Job) -> None:
        headers = signed_headers(job, utcnow())
        async with session.post(url, data=job.payload.encode(), headers=headers) as response:
            await response.read()

    started = time.perf_counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        for first in range(0, len(jobs), window):
            await asyncio.gather(
                *(post(session, url, job) for url, job in jobs[first : first + window])
            )
    return Rate(len(jobs), time.perf_counter() - started)
