"""Operator passwords, hashed with argon2id (RFC 9106; memory-hard, unlike bcrypt)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


@cache
def _unknown() -> str:
    """Verified against when the operator is unknown, so that a wrong name takes as long as
    a wrong password and names cannot be probed by timing. Hashed at the first sign-in,
    known name or not, rather than at import: a hash takes argon2's 64 MiB, which every
    gateway worker would otherwise hold at its peak without ever serving the console."""
    return _hasher.hash("no operator has this password")


MIN_LENGTH = 12


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    unknown = _unknown()
    try:
        return _hasher.verify(password_hash or unknown, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
