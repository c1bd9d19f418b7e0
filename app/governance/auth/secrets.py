"""Client secrets: generated with `secrets`, stored only as scrypt hashes.

Each scrypt hash takes 16 MiB (128 x N x r bytes) while it runs, so a process computes
them one at a time on one thread of its own. Token requests are checked in a pool of
threads, and glibc gives each thread an arena of its own that keeps the freed 16 MiB:
16 token requests took a served worker from 166 to 408 MiB resident, for good.

A secret that matched a stored hash is remembered by the process as an HMAC of it under
a random key of the process's own, next to that stored hash: a client asking again for
a token is checked against it in microseconds, with no hash to compute. A rotated
secret has a new stored hash (new salt), so nothing remembered for the old one matches
it; a wrong secret, an unknown client or a disabled one always pays the full hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

SECRET_PREFIX = "lgs_"
_N, _R, _P = 2**14, 8, 1
_HASHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scrypt")
# Stored hash -> HMAC-SHA256 of the secret that matched it, the most recent last.
VERIFIED_MAX = 1024
_verified: OrderedDict[str, bytes] = OrderedDict()
_verified_key = os.urandom(32)
_verified_lock = threading.Lock()


def _new_hasher() -> None:
    """A forked child has the parent's executor but not its thread; it gets a key of its own."""
    global _HASHER, _verified_key, _verified_lock  # noqa: PLW0603
    _HASHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scrypt")
    _verified_key = os.urandom(32)
    _verified_lock = threading.Lock()
    _verified.clear()


os.register_at_fork(after_in_child=_new_hasher)


def _scrypt(secret: str, *, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    job = _HASHER.submit(hashlib.scrypt, secret.encode(), salt=salt, n=n, r=r, p=p, dklen=dklen)
    return job.result()


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    salt = os.urandom(16)
    digest = _scrypt(secret, salt=salt, n=_N, r=_R, p=_P, dklen=32)
    encode = base64.urlsafe_b64encode
    return f"scrypt${_N}${_R}${_P}${encode(salt).decode()}${encode(digest).decode()}"


def verify_secret(secret: str, stored: str) -> bool:
    """Constant-time check of `secret` against a stored hash; False for any malformed hash.

    A secret this process already verified against `stored` is checked by its HMAC alone.
    """
    tag = hmac.new(_verified_key, secret.encode(), hashlib.sha256).digest()
    with _verified_lock:
        known = _verified.get(stored)
        if known is not None:
            _verified.move_to_end(stored)
    if known is not None and hmac.compare_digest(tag, known):
        return True
    if not _matches_hash(secret, stored):
        return False
    with _verified_lock:
        _verified[stored] = tag
        _verified.move_to_end(stored)
        while len(_verified) > VERIFIED_MAX:
            _verified.popitem(last=False)
    return True


def _matches_hash(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.urlsafe_b64decode(digest)
        actual = _scrypt(
            secret,
            salt=base64.urlsafe_b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)
