"""Endpoint health: consecutive failures, and disabling an endpoint that keeps failing.

An endpoint is disabled when it has failed `disable_after_failures` attempts in a row
and has been failing for at least `disable_after`, or at once when it answers 410 Gone.
Disabling records `webhook_endpoint.disabled` in the outbox, in the transaction that
disables it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.models.webhook_endpoint import EndpointStatus, WebhookEndpointRow
from core.settings import WebhookSettings
from events.outbox import record
from events.schemas import webhook_endpoint
from events.webhooks.metrics import ENDPOINT_FAILURES, ENDPOINTS_DISABLED

FAILING = "failing"
GONE = "gone"


def record_success(endpoint: WebhookEndpointRow) -> None:
    endpoint.consecutive_failures = 0
    endpoint.failing_since = None
    ENDPOINT_FAILURES.labels(endpoint.id).set(0)


async def record_failure(
    session: AsyncSession, endpoint: WebhookEndpointRow, now: datetime, settings: WebhookSettings
) -> None:
    """Count one failed attempt; disable the endpoint once past both thresholds."""
    endpoint.consecutive_failures += 1
    endpoint.failing_since = endpoint.failing_since or now
    ENDPOINT_FAILURES.labels(endpoint.id).set(endpoint.consecutive_failures)
    if (
        endpoint.status == EndpointStatus.ENABLED
        and endpoint.consecutive_failures >= settings.disable_after_failures
        and now - endpoint.failing_since >= settings.disable_after
    ):
        await disable(session, endpoint, FAILING, now)


async def disable(
    session: AsyncSession, endpoint: WebhookEndpointRow, reason: str, now: datetime
) -> None:
    """Disable `endpoint` for `reason`, counted, and reported as `endpoint.disabled` in
    `session`'s transaction (the caller commits)."""
    endpoint.status = EndpointStatus.DISABLED
    endpoint.disabled_reason = reason
    endpoint.disabled_at = now
    ENDPOINTS_DISABLED.labels(reason).inc()
    await record(session, webhook_endpoint.disabled(endpoint, now))
