"""Client secrets: stored only as a digest, SHA-256 for the generated ones, scrypt for chosen.

A secret the gateway generates (`new_secret()`) is 256 random bits: no one can search
2^256 candidates, however fast each guess, so a slow hash would protect nothing and its
SHA-256 digest is stored (`sha256$...`). A secret a person chose may be guessable, and
gets scrypt (`scrypt$...`), memory-hard so each guess costs. Every stored hash of either
scheme keeps verifying, whatever created it.

Each scrypt hash takes 16 MiB (128 x N x r bytes) while it runs, so a process computes
them one at a time on one thread of its own. Token requests are checked in a pool of
threads, and glibc gives each thread an arena of its own that keeps the freed 16 MiB:
16 token requests took a served worker from 166 to 408 MiB resident, for good.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from concurrent.futures import ThreadPoolExecutor

SECRET_PREFIX = "lgs_"
_N, _R, _P = 2**14, 8, 1
_HASHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scrypt")


def _new_hasher() -> None:
    """A forked child has the parent's executor but not its thread."""
    global _HASHER  # noqa: PLW0603
    _HASHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scrypt")


os.register_at_fork(after_in_child=_new_hasher)


def _scrypt(secret: str, *, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    job = _HASHER.submit(hashlib.scrypt, secret.encode(), salt=salt, n=n, r=r, p=p, dklen=dklen)
    return job.result()


def new_secret() -> tuple[str, str]:
    """A generated secret (`lgs_` and 256 random bits) and the digest to store for it."""
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    return secret, _sha256(secret)


def _sha256(secret: str) -> str:
    digest = hashlib.sha256(secret.encode()).digest()
    return f"sha256${base64.urlsafe_b64encode(digest).decode()}"


def hash_secret(secret: str) -> str:
    """The scrypt hash to store for a secret a person chose."""
    salt = os.urandom(16)
    digest = _scrypt(secret, salt=salt, n=_N, r=_R, p=_P, dklen=32)
    encode = base64.urlsafe_b64encode
    return f"scrypt${_N}${_R}${_P}${encode(salt).decode()}${encode(digest).decode()}"


def verify_secret(secret: str, stored: str) -> bool:
    """Constant-time check of `secret` against a stored hash; False for any malformed hash."""
    try:
        scheme, *fields = stored.split("$")
        if scheme == "sha256" and len(fields) == 1:
            expected = base64.urlsafe_b64decode(fields[0])
            actual = hashlib.sha256(secret.encode()).digest()
        elif scheme == "scrypt" and len(fields) == 5:
            n, r, p, salt, digest = fields
            expected = base64.urlsafe_b64decode(digest)
            actual = _scrypt(
                secret,
                salt=base64.urlsafe_b64decode(salt),
                n=int(n),
                r=int(r),
                p=int(p),
                dklen=len(expected),
            )
        else:
            return False
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)
