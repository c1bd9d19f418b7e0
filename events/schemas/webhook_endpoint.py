"""webhook_endpoint.disabled: an endpoint the gateway stopped delivering to."""

from __future__ import annotations

from datetime import datetime

from core.models.webhook_endpoint import WebhookEndpointRow
from events.envelope import CloudEvent
from events.schemas.base import EventData


class WebhookEndpointDisabled(EventData):
    """Disabled for `reason`: `failing` (past the failure threshold) or `gone` (a 410)."""

    event_type = "com.ledgergate.webhook_endpoint.disabled.v1"

    endpoint_id: str
    url: str
    reason: str
    consecutive_failures: int
    failing_since: datetime | None


def disabled(endpoint: WebhookEndpointRow, now: datetime) -> CloudEvent:
    """The event of `endpoint` disabled at `now`: the endpoint and the instant are the fact."""
    data = WebhookEndpointDisabled.of(
        endpoint, endpoint_id=endpoint.id, reason=endpoint.disabled_reason
    )
    return data.event(
        subject=endpoint.id,
        fact=(endpoint.id, now.isoformat()),
        partner_id=endpoint.partner_id,
        time=now,
    )
