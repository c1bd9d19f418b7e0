"""Signed webhook deliveries: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.

Stripe's scheme, which the CRM's Channel API signs its events with too (in its own
header). A delivery is authentic when one `v1` matches under the endpoint's secret
(more than one while a secret is being rolled; other schemes such as `v0` are ignored)
and `t` is within the tolerance of now, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

from core.errors import BadRequest

DEFAULT_TOLERANCE_SECONDS = 300
SIGNATURE_SCHEME = "v1"


class WebhookVerificationError(BadRequest):
    """A delivery that must not be acted on."""

    slug = "webhook-verification-failed"
    title = "The webhook delivery could not be verified"


class WebhookHeaderInvalid(WebhookVerificationError):
    slug = "webhook-signature-header-invalid"
    title = "The webhook's signature header is missing or malformed"


class WebhookSignatureMismatch(WebhookVerificationError):
    slug = "webhook-signature-mismatch"
    title = "No signature in the webhook's signature header matches the payload"


class WebhookTimestampOutsideTolerance(WebhookVerificationError):
    slug = "webhook-timestamp-outside-tolerance"
    title = "The webhook signature's timestamp is too old or in the future"


def parse_signature_header(header: str | None, name: str) -> tuple[int, list[str]]:
    """`t` and the `v1` signatures of the signature header called `name`."""
    if not header:
        raise WebhookHeaderInvalid(f"the {name} header is missing")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep or not value:
            raise WebhookHeaderInvalid(f"malformed element {part.strip()!r} in {name}")
        if key == "t":
            if timestamp is not None or not value.isdigit():
                raise WebhookHeaderInvalid(f"{name} needs exactly one numeric t")
            timestamp = int(value)
        elif key == SIGNATURE_SCHEME:
            signatures.append(value)
    if timestamp is None:
        raise WebhookHeaderInvalid(f"{name} has no timestamp (t)")
    if not signatures:
        raise WebhookHeaderInvalid(f"{name} has no {SIGNATURE_SCHEME} signature")
    return timestamp, signatures


def verify_signature(
    payload: bytes,
    header: str | None,
    secret: str,
    *,
    name: str,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: Callable[[], float] = time.time,
) -> None:
    """Raise a `WebhookVerificationError` unless `header` (called `name`) signs `payload`."""
    timestamp, signatures = parse_signature_header(header, name)
    signed = str(timestamp).encode() + b"." + payload
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise WebhookSignatureMismatch(f"no {SIGNATURE_SCHEME} signature matches the payload")
    skew = now() - timestamp
    if abs(skew) > tolerance_seconds:
        raise WebhookTimestampOutsideTolerance(
            f"signed {int(skew)} s from now; the tolerance is {tolerance_seconds} s"
        )
