"""The sliding-window counter of the rate limits: count a request and read the window
back, in one Redis round trip.

`limits`' strategy takes two calls per check (`hit`, then `get_window_stats` for the
`RateLimit` headers), two round trips to Redis on every governed request. Here one Lua
script does both, with `limits`' own keys and arithmetic (the previous window's count
weighted by the share of it still in view, plus the current one's), so counters set by
either are read by the other. In memory the two calls cost no round trip and stay as
`limits` makes them.

A guarded count (`count_guarded`) looks at one window and, only if it has room, counts
in another: a request with a known token has its address's failed authentications looked
at and its client's request counted in the same round trip. It reads a version key in
the same trip (`fresh_version` is written there when it is missing): whoever changes
what the key versions sets it to a fresh value, and a reader holding a copy of the
versioned thing keyed by the value it read knows the copy is current without a look
at the thing itself (the API clients' statuses, `auth/client_status.py`).
"""

from __future__ import annotations

import itertools
import os
import time
import uuid
from collections.abc import Callable
from math import floor, inf
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from limits import RateLimitItem
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import StorageTypes, storage_from_string
from limits.util import WindowStats

from core.redis_scripts import Arguments, Scripts, bulk, followed_by

if TYPE_CHECKING:
    from redis.asyncio import Redis

KEY_PREFIX = "LIMITS"  # `limits`' own, so its keys and these are the same counters

# One window: its previous and current keys, its limit, length (ms) and the cost to take
# (0: only look); answers the verdict, then the counts and their milliseconds left.
WINDOW = """
local function count(previous_key, current_key, limit, expiry, cost)
    local current_ttl = tonumber(redis.call('pttl', current_key))
    if current_ttl > 0 and current_ttl < expiry then
        redis.call('rename', current_key, previous_key)
        redis.call('set', current_key, 0, 'PX', current_ttl + expiry)
    end
    local previous_count = tonumber(redis.call('get', previous_key)) or 0
    local previous_ttl = math.max(0, tonumber(redis.call('pttl', previous_key)) or 0)
    local current_count = tonumber(redis.call('get', current_key)) or 0
    current_ttl = math.max(0, tonumber(redis.call('pttl', current_key)) or 0)
    local weighted = previous_count * previous_ttl / expiry + current_count
    local allowed = weighted < limit - math.max(cost, 1) + 1
    if allowed and cost > 0 then
        if redis.call('exists', current_key) == 1 then
            redis.call('incrby', current_key, cost)
        else
            redis.call('set', current_key, cost, 'PX', expiry * 2)
            current_ttl = expiry * 2
        end
        current_count = current_count + cost
    end
    return {allowed and 1 or 0, previous_count, previous_ttl, current_count, current_ttl}
end
"""
# KEYS: the previous and the current window; ARGV: limit, window (s), cost (0: only look).
COUNT = (
    WINDOW
    + """
return count(KEYS[1], KEYS[2], tonumber(ARGV[1]), tonumber(ARGV[2]) * 1000, tonumber(ARGV[3]))
"""
)
# A look at a guard window (KEYS 1-2, ARGV 1-2), then, only if the guard has room, a check
# of the counted one (KEYS 3-4, ARGV 3-5, as `COUNT`'s); and the version at KEYS[5] (set to
# ARGV[6] when missing). Answers 0 and the guard's window when the guard is used up, else
# 1 and the counted window's answer; the version last.
GUARDED_COUNT = (
    WINDOW
    + """
local version = redis.call('get', KEYS[5])
if not version then
    version = ARGV[6]
    redis.call('set', KEYS[5], version)
end
local open = 1
local answer = count(KEYS[1], KEYS[2], tonumber(ARGV[1]), tonumber(ARGV[2]) * 1000, 0)
if answer[1] == 1 then
    answer = count(
        KEYS[3], KEYS[4], tonumber(ARGV[3]), tonumber(ARGV[4]) * 1000, tonumber(ARGV[5])
    )
else
    open = 0
end
return {open, answer[1], answer[2], answer[3], answer[4], answer[5], version}
"""
)
_PROCESS = f"{uuid.uuid4().hex}-{os.getpid()}"
_SEQUENCE = itertools.count()


def fresh_version() -> str:
    """A value no other call answers, in this process or any other."""
    return f"{_PROCESS}-{next(_SEQUENCE)}"


def window_stats(
    item: RateLimitItem,
    previous_count: int,
    previous_expires_in: float,
    current_count: int,
    current_expires_in: float,
) -> WindowStats:
    """`limits`' `get_window_stats` from the window's counts and their remaining seconds."""
    expiry = item.get_expiry()
    weighted = previous_count * previous_expires_in / expiry + current_count
    remaining = max(0, item.amount - floor(weighted))
    now = time.time()
    if not (previous_count or current_count):
        return WindowStats(now, remaining)
    previous_reset_in = previous_expires_in % (expiry / previous_count) if previous_count else inf
    current_reset_in = current_expires_in % expiry if current_count else inf
    return WindowStats(now + min(previous_reset_in, current_reset_in), remaining)


class Window(NamedTuple):
    """A rate-limit item and the identifiers of one of its windows (policy, then key)."""

    item: RateLimitItem
    identifiers: tuple[str, ...]


class Guarded(NamedTuple):
    """A guarded count: whether the guard had room; the counted window's verdict and stats
    if it had, else the guard's (`allowed` False); the version read (None: none is kept,
    as in memory)."""

    guard_open: bool
    allowed: bool
    stats: WindowStats
    version: str | None = None


class SlidingWindow(SlidingWindowCounterRateLimiter):
    """`limits`' sliding-window counter with `count`: one check and its window stats."""

    async def count(
        self, item: RateLimitItem, *identifiers: str, cost: int = 1
    ) -> tuple[bool, WindowStats]:
        """Take `cost` from the window if it has room (0: only look); the verdict and stats."""
        if cost:
            allowed = await self.hit(item, *identifiers, cost=cost)
        else:
            allowed = await self.test(item, *identifiers)
        return allowed, await self.get_window_stats(item, *identifiers)

    async def count_guarded(self, guard: Window, counted: Window, version_key: str) -> Guarded:
        """Look at `guard`; only if it has room, take one from `counted`. In memory there
        is no version shared with other processes: the answer has none."""
        del version_key
        open_, stats = await self.count(guard.item, *guard.identifiers, cost=0)
        if not open_:
            return Guarded(False, False, stats)
        return Guarded(True, *await self.count(counted.item, *counted.identifiers))


def _keys(window: Window) -> list[str]:
    """`limits`' keys of a window: the previous one's, then the current one's."""
    current = f"{KEY_PREFIX}:{{{window.item.key_for(*window.identifiers)}}}"
    return [f"{current}/-1", current]


# A script's keys and numbers as the bytes Redis receives, packed once per set of windows
# rather than argument by argument on every request (clients and addresses are few; a
# full cache starts over).
_ARGUMENTS: dict[tuple[object, ...], Arguments] = {}
_ARGUMENTS_MAX = 10_000


def _arguments(key: tuple[object, ...], parts: Callable[[], list[bytes]]) -> Arguments:
    """The packed `parts()` of the windows and limits `key` names, packed on first use."""
    arguments = _ARGUMENTS.get(key)
    if arguments is None:
        if len(_ARGUMENTS) >= _ARGUMENTS_MAX:
            _ARGUMENTS.clear()
        arguments = _ARGUMENTS[key] = bulk(*parts())
    return arguments


def _window_arguments(window: Window) -> list[bytes]:
    """A window's keys (previous, current), then its limit and length (s)."""
    previous, current = _keys(window)
    item = window.item
    return [previous.encode(), current.encode(), b"%d" % item.amount, b"%d" % item.get_expiry()]


def _guarded_arguments(guard: Window, counted: Window, version_key: str) -> list[bytes]:
    """The guarded count's five keys, then the two limits and lengths and the cost (1)."""
    guard_keys, guard_limit = _split(_window_arguments(guard))
    counted_keys, counted_limit = _split(_window_arguments(counted))
    return [*guard_keys, *counted_keys, version_key.encode(), *guard_limit, *counted_limit, b"1"]


def _split(window: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    return window[:2], window[2:]


def _stats(item: RateLimitItem, answer: list[int]) -> WindowStats:
    """The stats of a window from the script's counts and milliseconds left."""
    previous, previous_ms, current, current_ms = answer
    return window_stats(item, previous, previous_ms / 1000, current, current_ms / 1000)


class RedisSlidingWindow(SlidingWindow):
    """`SlidingWindow` whose `count` and `count_guarded` are one Lua script, one round trip.

    A guarded count's two windows have keys in different hash slots: one Redis server
    (or primary) holds them, not a cluster.
    """

    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis  # here: a gateway counting in memory never loads it

        self.redis: Redis = Redis.from_url(url)
        # `limits`' storage (the readiness check's ping) on the same client and its pool.
        super().__init__(_storage(url, connection_pool=self.redis.connection_pool))
        self._scripts = Scripts(self.redis)
        self._count = self.redis.register_script(COUNT)
        self._count_guarded = self.redis.register_script(GUARDED_COUNT)

    async def count(
        self, item: RateLimitItem, *identifiers: str, cost: int = 1
    ) -> tuple[bool, WindowStats]:
        window = Window(item, identifiers)
        arguments = _arguments((window, cost), lambda: [*_window_arguments(window), b"%d" % cost])
        answer = await self._scripts.run(self._count, 2, arguments)
        allowed, *counts = cast("list[int]", answer)
        return bool(allowed), _stats(item, counts)

    async def count_guarded(self, guard: Window, counted: Window, version_key: str) -> Guarded:
        fixed = _arguments(
            (guard, counted, version_key),
            lambda: _guarded_arguments(guard, counted, version_key),
        )
        arguments = followed_by(fixed, fresh_version().encode())
        answer = await self._scripts.run(self._count_guarded, 5, arguments)
        guard_open, allowed, *counts, version = cast("list[Any]", answer)
        item = counted.item if guard_open else guard.item
        stats = _stats(item, counts)
        return Guarded(bool(guard_open), bool(allowed), stats, version.decode())


def redis_url(storage_url: str) -> str | None:
    """The Redis a storage URL names, None for another storage."""
    url = storage_url.removeprefix("async+")
    return url if url.startswith(("redis://", "rediss://")) else None


def _storage(url: str, **options: Any) -> StorageTypes:
    """`limits`' asyncio storage for `url`, a Redis one on redis-py.

    `limits` defaults to coredis for Redis, a second Redis client (with beartype) that
    cost a served worker 7 to 11 MiB resident next to redis-py, which the gateway needs
    anyway; it is not installed.
    """
    if url.startswith(("redis://", "rediss://", "redis+")):
        options["implementation"] = "redispy"
    return storage_from_string(f"async+{url}", **options)


def sliding_window(storage_url: str) -> SlidingWindow:
    """The counter for a storage URL: in Redis one round trip per check, else `limits`'."""
    url = storage_url.removeprefix("async+")
    if redis_url(url) is not None:
        return RedisSlidingWindow(url)
    return SlidingWindow(_storage(url))
