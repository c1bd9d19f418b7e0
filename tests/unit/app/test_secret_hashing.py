"""Client secrets are hashed on one thread: glibc gives every thread an arena of its own,
and each arena kept the 16 MiB a scrypt hash takes, so token requests checked in a pool
of threads left a worker hundreds of MiB larger."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from app.governance.auth import secrets


def test_hashes_checked_from_many_threads_run_on_one(monkeypatch: pytest.MonkeyPatch) -> None:
    stored = secrets.hash_secret("right")
    scrypt = hashlib.scrypt
    hashing_threads: set[int] = set()
    callers = threading.Barrier(4)

    def recording_scrypt(*args: Any, **kwargs: Any) -> bytes:
        hashing_threads.add(threading.get_ident())
        return scrypt(*args, **kwargs)

    def check(secret: str) -> bool:
        callers.wait()  # four threads, all checking at once
        return secrets.verify_secret(secret, stored)

    monkeypatch.setattr(hashlib, "scrypt", recording_scrypt)
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(check, ["right", "wrong", "right", "wrong"]))

    assert answers == [True, False, True, False]
    assert len(hashing_threads) == 1
    assert threading.get_ident() not in hashing_threads
