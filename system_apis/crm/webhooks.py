"""Verifying the CRM's signed event deliveries (`Channel-Signature`, Stripe's scheme: see
`system_apis.signatures`) and reading the one event the gateway acts on, `quote.accepted`.

Replays are the receiver's concern: it acts on each event id once (its key).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pydantic import ValidationError

from system_apis.crm.adapters.channel_wire import ChannelQuoteAccepted
from system_apis.crm.mapping import accepted_quote_from_channel
from system_apis.crm.schemas import CrmAcceptedQuote
from system_apis.signatures import (
    DEFAULT_TOLERANCE_SECONDS,
    WebhookVerificationError,
    verify_signature,
)

HEADER = "Channel-Signature"


class ChannelEventInvalid(WebhookVerificationError):
    slug = "channel-event-invalid"
    title = "The signed payload is not an accepted quote of the CRM"


def verify_quote_accepted(
    payload: bytes,
    header: str | None,
    secret: str,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: Callable[[], float] = time.time,
) -> CrmAcceptedQuote:
    """The accepted quote a verified delivery carries; a `WebhookVerificationError` if not."""
    verify_signature(
        payload, header, secret, name=HEADER, tolerance_seconds=tolerance_seconds, now=now
    )
    try:
        event = ChannelQuoteAccepted.model_validate_json(payload)
    except ValidationError as exc:
        raise ChannelEventInvalid(
            f"the payload is not a quote.accepted event ({exc.error_count()} problems)"
        ) from exc
    if event.data.status != "accepted":
        raise ChannelEventInvalid(f"quote {event.data.id} is {event.data.status}, not accepted")
    return accepted_quote_from_channel(event)
