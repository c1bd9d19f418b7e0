"""Verifying Stripe webhook deliveries and turning them into canonical `BillingEvent`s.

Stripe signs each delivery with the endpoint's secret in the `Stripe-Signature` header
(the scheme and its checks: `system_apis.signatures`). With a `ReplayStore`, a verified
event is accepted only if its id has not been accepted before (so it cannot be replayed
within the tolerance either, and Stripe's own redeliveries are recognised).

The receiver decides what a refusal means on its side: `WebhookReplayed` is a
delivery already accepted (answer 2xx so Stripe stops retrying); every other
`WebhookVerificationError` is a 400.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

from pydantic import ValidationError

from system_apis.billing.adapters.stripe_wire import StripeEvent
from system_apis.billing.mapping import event_from_stripe
from system_apis.billing.schemas import BillingEvent
from system_apis.signatures import (
    DEFAULT_TOLERANCE_SECONDS,
    WebhookHeaderInvalid,
    WebhookSignatureMismatch,
    WebhookTimestampOutsideTolerance,
    WebhookVerificationError,
    verify_signature,
)

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "WebhookHeaderInvalid",
    "WebhookSignatureMismatch",
    "WebhookTimestampOutsideTolerance",
    "WebhookVerificationError",
]

HEADER = "Stripe-Signature"


class WebhookPayloadInvalid(WebhookVerificationError):
    slug = "webhook-payload-invalid"
    title = "The signed payload is not a Stripe event"


class WebhookReplayed(WebhookVerificationError):
    """The event id was accepted before: a replay, or Stripe redelivering it."""

    status_code = 409
    slug = "webhook-replayed"
    title = "The webhook event was already received"


class ReplayStore(Protocol):
    """Remembers accepted event ids. A database-backed store claims with a unique key."""

    async def claim(self, event_id: str, *, now: float) -> bool:
        """Record `event_id`; False when it was already recorded (and not released)."""
        ...

    async def release(self, event_id: str) -> None:
        """Forget `event_id`, so a redelivery is accepted (after the receiver failed it)."""
        ...


class InMemoryReplayStore:
    """A `ReplayStore` for one process: ids kept for `retention`, at most `max_entries`.

    Stripe retries a failed delivery for up to three days, the default retention.
    """

    def __init__(
        self, *, retention: timedelta = timedelta(days=3), max_entries: int = 100_000
    ) -> None:
        self._retention = retention.total_seconds()
        self._max_entries = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    async def claim(self, event_id: str, *, now: float) -> bool:
        while self._seen and (
            next(iter(self._seen.values())) <= now - self._retention
            or len(self._seen) >= self._max_entries
        ):
            self._seen.popitem(last=False)
        if event_id in self._seen:
            return False
        self._seen[event_id] = now
        return True

    async def release(self, event_id: str) -> None:
        self._seen.pop(event_id, None)


def verify_stripe_signature(
    payload: bytes,
    header: str | None,
    secret: str,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: Callable[[], float] = time.time,
) -> BillingEvent:
    """Check signature and timestamp, then parse: the stateless half of verification."""
    verify_signature(
        payload, header, secret, name=HEADER, tolerance_seconds=tolerance_seconds, now=now
    )
    try:
        return event_from_stripe(StripeEvent.model_validate_json(payload))
    except ValidationError as exc:
        raise WebhookPayloadInvalid(
            f"the payload is not a Stripe event ({exc.error_count()} problems)"
        ) from exc


async def verify_stripe_event(
    payload: bytes,
    header: str | None,
    secret: str,
    *,
    replay_store: ReplayStore,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: Callable[[], float] = time.time,
) -> BillingEvent:
    """Verify one delivery (the raw body, its `Stripe-Signature`) and claim its event id.

    Raises a `WebhookVerificationError` subclass saying why it was refused. If the
    receiver then fails to process the event, it should `replay_store.release(id)`
    so that Stripe's retry is accepted.
    """
    event = verify_stripe_signature(
        payload, header, secret, tolerance_seconds=tolerance_seconds, now=now
    )
    if not await replay_store.claim(event.id, now=now()):
        raise WebhookReplayed(f"event {event.id} was already received")
    return event
