"""A small per-process cache of backend reference data that changes rarely.

Each gateway process (each uvicorn worker, each replica) keeps its own; an entry is
trusted for `ttl` seconds after it was read from the backend, then read again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(self, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        """The value stored for `key` less than `ttl` seconds ago, else `None`."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if self._clock() >= expires:
            del self._entries[key]
            return None
        return value

    def put(self, key: K, value: V) -> None:
        self._entries[key] = (self._clock() + self.ttl, value)


class VersionedCache(Generic[K, V]):
    """Values read from rows that carry a version bumped by every change of what the value
    holds: an entry is trusted only for the version it was read at, which the caller
    learns from its own, cheaper read of the row (see `process_apis.legal_entities`)."""

    def __init__(self) -> None:
        self._entries: dict[K, tuple[int, V]] = {}

    def get(self, key: K, version: int) -> V | None:
        """The value read at `version`, else `None`."""
        entry = self._entries.get(key)
        return entry[1] if entry is not None and entry[0] == version else None

    def put(self, key: K, version: int, value: V) -> None:
        self._entries[key] = (version, value)
