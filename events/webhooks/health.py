"""Endpoint health: consecutive failures, and disabling an endpoint that keeps failing.

An endpoint is disabled when it has failed `disable_after_failures` attempts in a row
and has been failing for at least `disable_after`, or at once when it answers 410 Gone.
"""

from __future__ import annotations

import logging
from datetime import datetime

from core.models.webhook_endpoint import EndpointStatus, WebhookEndpointRow
from core.settings import WebhookSettings
from events.envelope import CloudEvent, new_event
from events.webhooks.metrics import ENDPOINT_FAILURES, ENDPOINTS_DISABLED

logger = logging.getLogger(__name__)

ENDPOINT_DISABLED = "com.ledgergate.webhook_endpoint.disabled.v1"
FAILING = "failing"
GONE = "gone"


def record_success(endpoint: WebhookEndpointRow) -> None:
    endpoint.consecutive_failures = 0
    endpoint.failing_since = None
    ENDPOINT_FAILURES.labels(endpoint.id).set(0)


def record_failure(endpoint: WebhookEndpointRow, now: datetime, settings: WebhookSettings) -> None:
    """Count one failed attempt; disable the endpoint once past both thresholds."""
    endpoint.consecutive_failures += 1
    endpoint.failing_since = endpoint.failing_since or now
    ENDPOINT_FAILURES.labels(endpoint.id).set(endpoint.consecutive_failures)
    if (
        endpoint.status == EndpointStatus.ENABLED
        and endpoint.consecutive_failures >= settings.disable_after_failures
        and now - endpoint.failing_since >= settings.disable_after
    ):
        disable(endpoint, FAILING, now)


def disable(endpoint: WebhookEndpointRow, reason: str, now: datetime) -> None:
    """Disable `endpoint` for `reason`, counted and reported as `endpoint.disabled`."""
    endpoint.status = EndpointStatus.DISABLED
    endpoint.disabled_reason = reason
    endpoint.disabled_at = now
    ENDPOINTS_DISABLED.labels(reason).inc()
    record_endpoint_disabled(endpoint_disabled_event(endpoint, now))


def endpoint_disabled_event(endpoint: WebhookEndpointRow, now: datetime) -> CloudEvent:
    """The `endpoint.disabled` event, its id derived from the endpoint and the instant."""
    return new_event(
        ENDPOINT_DISABLED,
        fact=(endpoint.id, now.isoformat()),
        subject=endpoint.id,
        data={
            "endpoint_id": endpoint.id,
            "url": endpoint.url,
            "reason": endpoint.disabled_reason,
            "consecutive_failures": endpoint.consecutive_failures,
            "failing_since": endpoint.failing_since.isoformat() if endpoint.failing_since else None,
        },
        time=now,
        partner_id=endpoint.partner_id,
    )


def record_endpoint_disabled(event: CloudEvent) -> None:
    """Report that an endpoint was disabled.

    The transactional outbox (`events/outbox.py`) is not in this tree yet: until it is,
    the event is written to the log, whole; then it is to be recorded in the outbox in
    the transaction that disables the endpoint.
    """
    logger.warning("webhooks.endpoint_disabled", extra={"event": event.model_dump(mode="json")})
