"""One delivery attempt: the signed POST and what came of it.

The request goes to the address the guard checked, with the endpoint's host name in
`Host` (and TLS SNI), and is never redirected. Only the first bytes of the answer are
read and kept (`clients.EXCERPT_BYTES`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from events.webhooks.clients import TRANSPORT_ERRORS, Post
from events.webhooks.errors import WebhookUrlRefused
from events.webhooks.guard import Target
from events.webhooks.secrets import signature_header

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
    job: Job, target: Target | WebhookUrlRefused, *, post: Post, timestamp: datetime
) -> AttemptResult:
    """POST `job` once to `target` (or record why its URL was refused); every failure is
    a result, never an exception."""
    if isinstance(target, WebhookUrlRefused):
        return AttemptResult(REFUSED, 0, error=target.detail[:500])
    started = time.monotonic()
    try:
        answer = await post(target, signed_headers(job, timestamp), job.payload.encode())
    except TRANSPORT_ERRORS as error:
        elapsed = int((time.monotonic() - started) * 1000)
        return AttemptResult(FAILED, elapsed, error=f"{type(error).__name__}: {error}"[:500])
    return AttemptResult(
        outcome_of(answer.status_code),
        int((time.monotonic() - started) * 1000),
        status_code=answer.status_code,
        excerpt=answer.excerpt,
    )
