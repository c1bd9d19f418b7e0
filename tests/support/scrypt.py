"""Counting the scrypt hashes a secret check computes."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest


def counting_scrypt(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Patch scrypt to count its calls; the list's length is the count."""
    scrypt = hashlib.scrypt
    calls: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        return scrypt(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counted)
    return calls
