"""The problems the webhook routes answer, each with a stable `type`."""

from __future__ import annotations

from core.errors import Conflict, LedgergateError, NotFound


class WebhookUrlRefused(LedgergateError):
    """The URL is not one deliveries may go to (scheme, credentials, or its address)."""

    status_code = 422
    slug = "webhook-url-refused"
    title = "Webhook deliveries may not go to this URL"


class WebhookEndpointNotFound(NotFound):
    slug = "webhook-endpoint-not-found"
    title = "No such webhook endpoint"


class WebhookMessageNotFound(NotFound):
    slug = "webhook-message-not-found"
    title = "No such webhook message"


class WebhookEndpointDisabled(Conflict):
    slug = "webhook-endpoint-disabled"
    title = "The webhook endpoint is disabled"


class WebhookEndpointDeleted(Conflict):
    slug = "webhook-endpoint-deleted"
    title = "The webhook endpoint was deleted"


class WebhookEventTypeUnknown(LedgergateError):
    """An event-type filter naming a type the event catalog does not list."""

    status_code = 422
    slug = "webhook-event-type-unknown"
    title = "No such event type"
