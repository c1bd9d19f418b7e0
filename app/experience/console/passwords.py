"""Operator passwords, hashed with argon2id (RFC 9106; memory-hard, unlike bcrypt)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified against when the operator is unknown, so that a wrong name takes as long as a
# wrong password and names cannot be probed by timing.
_UNKNOWN = _hasher.hash("no operator has this password")

MIN_LENGTH = 12


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _UNKNOWN, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
