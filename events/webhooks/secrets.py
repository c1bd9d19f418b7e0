"""Endpoint secrets: `whsec_` + base64 as Standard Webhooks defines, encrypted at rest.

A rotated-out secret keeps signing beside the new one until its grace period ends, so
a receiver can switch secrets without refusing a delivery.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from standardwebhooks import Webhook

from core.key_encryption import KeyEncryption
from core.models.webhook_endpoint import WebhookEndpointRow

PREFIX = "whsec_"
SECRET_BYTES = 32  # Standard Webhooks: between 24 and 64 bytes


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def seal(encryption: KeyEncryption, secret: str) -> str:
    return encryption.encrypt({"secret": secret})


def unseal(encryption: KeyEncryption, sealed: str) -> str:
    secret: str = encryption.decrypt(sealed)["secret"]
    return secret


def signing_secrets(
    endpoint: WebhookEndpointRow, encryption: KeyEncryption, now: datetime
) -> tuple[str, ...]:
    """The secrets that sign a delivery now: the current one, then the previous in its grace."""
    current = unseal(encryption, endpoint.secret_encrypted)
    previous = endpoint.previous_secret_encrypted
    expires = endpoint.previous_secret_expires_at
    if previous is None or expires is None or expires <= now:
        return (current,)
    return current, unseal(encryption, previous)


def signature_header(
    secrets_: tuple[str, ...], *, msg_id: str, timestamp: datetime, payload: bytes
) -> str:
    """`webhook-signature`: one space-separated `v1,<base64>` per secret."""
    return " ".join(
        Webhook(secret).sign(msg_id=msg_id, timestamp=timestamp, data=payload)
        for secret in secrets_
    )
