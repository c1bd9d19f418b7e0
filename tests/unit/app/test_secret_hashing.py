"""Client secrets: a generated one is kept as a SHA-256 digest, a chosen one as a scrypt
hash, and every stored hash of either scheme keeps verifying.

scrypt hashes run on one thread: glibc gives every thread an arena of its own, and each
arena kept the 16 MiB a scrypt hash takes, so token requests checked in a pool of
threads left a worker hundreds of MiB larger."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from app.governance.auth import secrets
from tests.support.scrypt import counting_scrypt


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


# Made by the scrypt scheme before generated secrets had a scheme of their own: what a
# deployed database holds for every client until its secret is rotated.
DEPLOYED_SCRYPT_HASH = (
    "scrypt$16384$8$1$un8hs6gy14K2T7hudtK_DQ==$LngjIB5HPWYco17lKQ3fea36wzDF4qSN4lD9yb7TH-U="
)


def test_a_generated_secret_is_kept_and_checked_as_sha256_without_scrypt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = counting_scrypt(monkeypatch)
    secret, stored = secrets.new_secret()

    assert secret.startswith(secrets.SECRET_PREFIX)
    assert len(secret) == len(secrets.SECRET_PREFIX) + 43  # 32 random bytes, base64url
    assert stored.startswith("sha256$")
    assert secret not in stored
    assert secrets.verify_secret(secret, stored)
    assert not secrets.verify_secret(secret + "x", stored)
    assert not secrets.verify_secret(secrets.new_secret()[0], stored)
    assert calls == []


def test_each_generated_secret_is_new() -> None:
    made = [secrets.new_secret() for _ in range(3)]
    assert len({secret for secret, _ in made}) == len({stored for _, stored in made}) == 3


def test_a_chosen_secret_is_kept_as_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = counting_scrypt(monkeypatch)
    stored = secrets.hash_secret("chosen")

    assert stored.startswith("scrypt$16384$8$1$")
    assert secrets.verify_secret("chosen", stored)
    assert not secrets.verify_secret("wrong", stored)
    assert len(calls) == 3


def test_a_deployed_scrypt_hash_still_verifies() -> None:
    assert secrets.verify_secret("chosen-before", DEPLOYED_SCRYPT_HASH)
    assert not secrets.verify_secret("chosen-after", DEPLOYED_SCRYPT_HASH)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "sha256$",
        "sha256$not base64!",
        "sha256$KcSsZ36ocvsxQqFowumxeQdwydVVtm3okiCaneJ8g6U=$extra",
        "md5$KcSsZ36ocvsxQqFowumxeQdwydVVtm3okiCaneJ8g6U=",
        "scrypt$16384$8$1$un8hs6gy14K2T7hudtK_DQ==",
        "scrypt$n$8$1$un8hs6gy14K2T7hudtK_DQ==$LngjIB5HPWYco17lKQ3fea36wzDF4qSN4lD9yb7TH-U=",
    ],
)
def test_a_malformed_hash_matches_nothing(stored: str) -> None:
    assert not secrets.verify_secret("", stored)
    assert not secrets.verify_secret("chosen-before", stored)
