"""Envelope encryption of secrets kept in the database (the token signing keys).

The key-encryption key comes from the environment or a mounted secret file, never from
the database: a copy of the database alone yields no signing key. Several keys may be
configured, newest first, so the key-encryption key can be rotated without downtime.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core.settings import DEVELOPMENT_KEY_ENCRYPTION_KEY, AuthSettings


class KeyEncryptionError(RuntimeError):
    """A stored secret cannot be decrypted with the configured key-encryption keys."""


class KeyEncryption:
    def __init__(self, keys: list[str]) -> None:
        try:
            self._fernet = MultiFernet([Fernet(key) for key in keys])
        except (ValueError, TypeError) as error:
            raise KeyEncryptionError(
                "auth.key_encryption_key must be Fernet keys (32 url-safe base64 bytes)"
            ) from error

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> KeyEncryption:
        """The configured keys; outside production the public development key when unset."""
        return cls(settings.key_encryption_keys() or [DEVELOPMENT_KEY_ENCRYPTION_KEY])

    def encrypt(self, value: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(value, sort_keys=True).encode()).decode()

    def decrypt(self, token: str) -> dict[str, Any]:
        try:
            value: dict[str, Any] = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as error:
            raise KeyEncryptionError(
                "a signing key cannot be decrypted: is auth.key_encryption_key the one it was "
                "encrypted with?"
            ) from error
        return value
