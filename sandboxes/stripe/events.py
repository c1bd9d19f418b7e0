"""Events, and their delivery to webhook endpoints signed with `Stripe-Signature`, with retries."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging

import httpx

from sandboxes.stripe.state import StripeState, WebhookAttempt, WebhookEndpoint
from sandboxes.stripe.wire import API_VERSION, JsonObject, new_object_id

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 10.0


def emit(
    state: StripeState,
    event_type: str,
    obj: JsonObject,
    previous_attributes: JsonObject | None = None,
) -> None:
    """Record an event with a snapshot of `obj`; it is sent once the request is answered."""
    data: JsonObject = {"object": copy.deepcopy(obj)}
    if previous_attributes is not None:
        data["previous_attributes"] = copy.deepcopy(previous_attributes)
    request = state.request
    event: JsonObject = {
        "id": new_object_id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": state.clock(),
        "data": data,
        "livemode": False,
        "pending_webhooks": sum(1 for e in state.webhook_endpoints if e.wants(event_type)),
        "request": {
            "id": None if request is None else request.request_id,
            "idempotency_key": None if request is None else request.idempotency_key,
        },
        "type": event_type,
    }
    state.events.append(event)
    state.outbox.append(event)


def signature_header(payload: bytes, secret: str, timestamp: int) -> str:
    """Stripe's `Stripe-Signature`: `t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<payload>">`."""
    signed = str(timestamp).encode() + b"." + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


async def deliver_event(state: StripeState, endpoint: WebhookEndpoint, event: JsonObject) -> bool:
    """POST one event to one endpoint until it answers 2xx, retrying with backoff.

    Each attempt is signed afresh (a new `t`), as Stripe does; every attempt is kept
    in `state.webhook_attempts`.
    """
    payload = json.dumps(event, separators=(",", ":")).encode()
    signed_at = state.webhook_clock or state.clock
    transport = None if endpoint.app is None else httpx.ASGITransport(app=endpoint.app)
    async with httpx.AsyncClient(transport=transport, timeout=WEBHOOK_TIMEOUT_SECONDS) as client:
        for attempt, delay in enumerate((0.0, *state.webhook_retry_delays), start=1):
            if delay:
                await state.webhook_sleep(delay)
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                "Stripe-Signature": signature_header(payload, endpoint.secret, signed_at()),
            }
            status, error = None, None
            try:
                response = await client.post(endpoint.url, content=payload, headers=headers)
                status = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            state.webhook_attempts.append(
                WebhookAttempt(event["id"], event["type"], endpoint.url, attempt, status, error)
            )
            if status is not None and 200 <= status < 300:
                logger.info(
                    "billing.sandbox.webhook.delivered",
                    extra={"event_id": event["id"], "url": endpoint.url, "attempt": attempt},
                )
                return True
    logger.warning(
        "billing.sandbox.webhook.abandoned",
        extra={"event_id": event["id"], "url": endpoint.url, "attempts": attempt},
    )
    return False


async def deliver_events(state: StripeState, events: list[JsonObject]) -> None:
    """Send `events`, in order, to every endpoint that wants them."""
    for event in events:
        for endpoint in state.webhook_endpoints:
            if endpoint.wants(event["type"]):
                await deliver_event(state, endpoint, event)
