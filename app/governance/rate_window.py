"""The sliding-window counter of the rate limits: count a request and read the window
back, in one Redis round trip.

`limits`' strategy takes two calls per check (`hit`, then `get_window_stats` for the
`RateLimit` headers), two round trips to Redis on every governed request. Here one Lua
script does both, with `limits`' own keys and arithmetic (the previous window's count
weighted by the share of it still in view, plus the current one's), so counters set by
either are read by the other. In memory the two calls cost no round trip and stay as
`limits` makes them.
"""

from __future__ import annotations

import time
from math import floor, inf
from typing import TYPE_CHECKING, cast

from limits import RateLimitItem
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string
from limits.util import WindowStats

if TYPE_CHECKING:
    from redis.asyncio import Redis

KEY_PREFIX = "LIMITS"  # `limits`' own, so its keys and these are the same counters

# KEYS: the previous and the current window; ARGV: limit, window (s), cost (0: only look).
COUNT = """
local limit, expiry, cost = tonumber(ARGV[1]), tonumber(ARGV[2]) * 1000, tonumber(ARGV[3])
local current_ttl = tonumber(redis.call('pttl', KEYS[2]))
if current_ttl > 0 and current_ttl < expiry then
    redis.call('rename', KEYS[2], KEYS[1])
    redis.call('set', KEYS[2], 0, 'PX', current_ttl + expiry)
end
local previous_count = tonumber(redis.call('get', KEYS[1])) or 0
local previous_ttl = math.max(0, tonumber(redis.call('pttl', KEYS[1])) or 0)
local current_count = tonumber(redis.call('get', KEYS[2])) or 0
current_ttl = math.max(0, tonumber(redis.call('pttl', KEYS[2])) or 0)
local weighted = previous_count * previous_ttl / expiry + current_count
local allowed = weighted < limit - math.max(cost, 1) + 1
if allowed and cost > 0 then
    if redis.call('exists', KEYS[2]) == 1 then
        redis.call('incrby', KEYS[2], cost)
    else
        redis.call('set', KEYS[2], cost, 'PX', expiry * 2)
        current_ttl = expiry * 2
    end
    current_count = current_count + cost
end
return {allowed and 1 or 0, previous_count, previous_ttl, current_count, current_ttl}
"""


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


class RedisSlidingWindow(SlidingWindow):
    """`SlidingWindow` whose `count` is one Lua script, one round trip."""

    def __init__(self, url: str) -> None:
        super().__init__(storage_from_string(f"async+{url}"))
        from redis.asyncio import Redis  # here: a gateway counting in memory never loads it

        self.redis: Redis = Redis.from_url(url)
        self._count = self.redis.register_script(COUNT)

    async def count(
        self, item: RateLimitItem, *identifiers: str, cost: int = 1
    ) -> tuple[bool, WindowStats]:
        current = f"{KEY_PREFIX}:{{{item.key_for(*identifiers)}}}"
        answer = await self._count(
            keys=[f"{current}/-1", current], args=[item.amount, item.get_expiry(), cost]
        )
        allowed, previous, previous_ms, current_count, current_ms = cast("list[int]", answer)
        stats = window_stats(item, previous, previous_ms / 1000, current_count, current_ms / 1000)
        return bool(allowed), stats


def sliding_window(storage_url: str) -> SlidingWindow:
    """The counter for a storage URL: in Redis one round trip per check, else `limits`'."""
    url = storage_url.removeprefix("async+")
    if url.startswith(("redis://", "rediss://")):
        return RedisSlidingWindow(url)
    return SlidingWindow(storage_from_string(f"async+{url}"))
