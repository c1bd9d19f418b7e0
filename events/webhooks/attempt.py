"""One delivery attempt: the signed POST and what came of it.

The request goes to the address the guard checked, with the endpoint's host name in
`Host` (and TLS SNI), and is never redirected. Only the first `EXCERPT_BYTES` of the
answer are read and kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import httpx

from events.webhooks.clients import HostClients
from events.webhooks.errors import WebhookUrlRefused
from events.webhooks.guard import UrlGuard
from events.webhooks.secrets import signature_header

EXCERPT_BYTES = 1024
USER_AGENT = "Ledgergate-Webhooks/1"

DELIVERED = "delivered"
FAILED = "failed"
GONE = "gone"
REFUSED = "refused"


@dataclass(frozen=True)
class Job:
    """A claimed message, with what its delivery needs from its endpoint."""

    message_id: str
    endpoint_id: str
    event_id: str
    subject: str
    url: str
    secrets: tuple[str, ...]
    payload: str
    attempt: int  # 1 for the first attempt of the message's current schedule


@dataclass(frozen=True)
class AttemptResult:
    outcome: str
    duration_ms: int
    status_code: int | None = None
    excerpt: str | None = None
    error: str | None = None


def outcome_of(status_code: int) -> str:
    if 200 <= status_code < 300:
        return DELIVERED
    return GONE if status_code == 410 else FAILED


def signed_headers(job: Job, timestamp: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of `job` sent at `timestamp`."""
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": job.event_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature_header(
            job.secrets, msg_id=job.event_id, timestamp=timestamp, payload=job.payload.encode()
        ),
    }


async def attempt(
    job: Job, *, clients: HostClients, guard: UrlGuard, timestamp: datetime
) -> AttemptResult:
    """POST `job` once; every failure is a result, never an exception."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = await guard.resolve(job.url)
        headers = {**signed_headers(job, timestamp), "host": target.host_header}
        client = clients.for_host(target.host_header)
        async with client.stream(
            "POST",
            target.url,
            content=job.payload.encode(),
            headers=headers,
            extensions=target.extensions,
        ) as response:
            excerpt = await _excerpt(response)
    except WebhookUrlRefused as refused:
        return AttemptResult(REFUSED, elapsed(), error=refused.detail[:500])
    except httpx.HTTPError as error:
        return AttemptResult(FAILED, elapsed(), error=f"{type(error).__name__}: {error}"[:500])
    return AttemptResult(
        outcome_of(response.status_code),
        elapsed(),
        status_code=response.status_code,
        excerpt=excerpt,
    )


async def _excerpt(response: httpx.Response) -> str:
    read = b""
    async for chunk in response.aiter_bytes():
        read += chunk
        if len(read) >= EXCERPT_BYTES:
            break
    return read[:EXCERPT_BYTES].decode("utf-8", errors="replace")
