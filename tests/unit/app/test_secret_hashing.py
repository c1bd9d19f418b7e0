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


def counting_scrypt(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Patch scrypt to count its calls; the list's length is the count."""
    scrypt = hashlib.scrypt
    calls: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        return scrypt(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counted)
    return calls


def test_a_secret_verified_once_is_not_hashed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    stored = secrets.hash_secret("right")
    calls = counting_scrypt(monkeypatch)

    assert [secrets.verify_secret("right", stored) for _ in range(3)] == [True] * 3

    assert len(calls) == 1


def test_a_wrong_secret_always_pays_the_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    stored = secrets.hash_secret("right")
    assert secrets.verify_secret("right", stored)
    calls = counting_scrypt(monkeypatch)

    assert not secrets.verify_secret("wrong", stored)
    assert not secrets.verify_secret("wrong", stored)

    assert len(calls) == 2


def test_a_rotated_secret_is_checked_against_its_new_hash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = secrets.hash_secret("old")
    assert secrets.verify_secret("old", old)
    new = secrets.hash_secret("new")
    calls = counting_scrypt(monkeypatch)

    assert not secrets.verify_secret("old", new)
    assert secrets.verify_secret("new", new)
    assert secrets.verify_secret("old", old)  # the previous one, while in its grace

    assert len(calls) == 2


def test_the_remembered_secrets_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets, "VERIFIED_MAX", 2)
    first, second, third = (secrets.hash_secret(s) for s in ("a", "b", "c"))
    for secret, stored in (("a", first), ("b", second), ("c", third)):
        assert secrets.verify_secret(secret, stored)
    calls = counting_scrypt(monkeypatch)

    assert secrets.verify_secret("c", third)
    assert secrets.verify_secret("a", first)  # forgotten: hashed again

    assert len(calls) == 1
