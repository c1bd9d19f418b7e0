"""The ERP budget's shared state in Redis: one Lua script, one round trip, per acquire
(which first frees the slots the process released since its last round trip).

Per connection three keys: a sorted set of the window's operations, a sorted set of the
requests in flight (scored by when their lease ends, so a crashed process frees its
slots), and a hash with the scale and the pause. An operation's score is the latest
moment its request can have reached the ERP: its lease's end while the request is in
flight, the time its answer came back once it is released; the window counts it until a
window after that. Times are the callers' wall-clock milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from system_apis.budget import (
    MIN_SCALE,
    RECOVERY_STEP,
    Acquire,
    Admission,
    BudgetStoreUnavailable,
    Released,
)
from system_apis.priority import FULL_SCALE

KEY_PREFIX = "ledgergate:erp-budget:"
PARTS = ("window", "flight", "state")

RELEASED = """
-- ARGV from `first` on, one a request, 'token cost answered_at': free each request's
-- slot and count its operations from its answer, not from its lease's end
local function released(window, flight, first)
  if #ARGV < first then return end
  local tokens = {}
  for i = first, #ARGV do
    local token, cost, at = string.match(ARGV[i], '^(%S+) (%d+) (%d+)$')
    tokens[#tokens + 1] = token
    local entries = {}
    for n = 1, tonumber(cost) do
      entries[#entries + 1] = at
      entries[#entries + 1] = token .. ':' .. n
    end
    if #entries > 0 then redis.call('ZADD', window, 'XX', unpack(entries)) end
  end
  redis.call('ZREM', flight, unpack(tokens))
end
"""

ACQUIRE = (
    RELEASED
    + """
local window, flight, state = KEYS[1], KEYS[2], KEYS[3]
-- ARGV[1]: 'now window_ms limit concurrency cost lease_ms token full share' (one argument:
-- each costs the client's encoder a dozen Python calls); the released requests follow
local now, window_ms, limit, concurrency, cost, lease_ms, token, full, share = string.match(
  ARGV[1], '^(%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%S+) (%d+) (%d+)$')
now, window_ms, limit = tonumber(now), tonumber(window_ms), tonumber(limit)
concurrency, cost, lease_ms = tonumber(concurrency), tonumber(cost), tonumber(lease_ms)
full, share = tonumber(full), tonumber(share)
released(window, flight, 2)
local fields = redis.call('HMGET', state, 'scale', 'paused_until')
local scale = tonumber(fields[1]) or full
local paused_until = tonumber(fields[2]) or 0
if paused_until > now then return {0, paused_until - now, scale} end
redis.call('ZREMRANGEBYSCORE', flight, '-inf', now)
local part = function(n, at) return math.max(1, math.floor(n * at * share / (full * full))) end
if redis.call('ZCARD', flight) >= part(concurrency, scale) then
  return {0, 0, scale}
end
if limit > 0 then
  redis.call('ZREMRANGEBYSCORE', window, '-inf', now - window_ms)
  local used = redis.call('ZCARD', window)
  local since_pause = redis.call('ZCOUNT', window, paused_until, '+inf')
  -- the scaled limit counts from the last pause's end, the configured one over the whole
  -- window; a request waits for the grant whose leaving makes room under the one it broke
  local scaled, configured = part(limit, scale), part(limit, full)
  local binding = nil
  if since_pause + cost > scaled then binding = scaled
  elseif used + cost > configured then binding = configured end
  if binding then
    -- the operation whose leaving makes room; one still in flight leaves a window after
    -- its answer, which comes now at the soonest
    local rank = used + cost - binding - 1
    local freed = redis.call('ZRANGE', window, rank, rank, 'WITHSCORES')
    local counted_at = freed[2] and math.min(tonumber(freed[2]), now) or now
    return {0, math.max(1, counted_at + window_ms - now), scale}
  end
  local entries = {}
  for i = 1, cost do
    entries[#entries + 1] = now + lease_ms
    entries[#entries + 1] = token .. ':' .. i
  end
  redis.call('ZADD', window, unpack(entries))
  redis.call('PEXPIRE', window, lease_ms + window_ms)
end
redis.call('ZADD', flight, now + lease_ms, token)
redis.call('PEXPIRE', flight, lease_ms)
return {1, 0, scale}
"""
)

RELEASE = (
    RELEASED
    + """
released(KEYS[1], KEYS[2], 1)
"""
)

THROTTLED = """
local state = KEYS[1]
local now, pause_ms = tonumber(ARGV[1]), tonumber(ARGV[2])
local full, floor = tonumber(ARGV[3]), tonumber(ARGV[4])
local scale = tonumber(redis.call('HGET', state, 'scale')) or full
scale = math.max(floor, math.floor(scale / 2))
local paused_until = math.max(tonumber(redis.call('HGET', state, 'paused_until')) or 0,
                              now + pause_ms)
redis.call('HSET', state, 'scale', scale, 'paused_until', paused_until)
return scale
"""

RECOVERED = """
local state = KEYS[1]
local full, step = tonumber(ARGV[1]), tonumber(ARGV[2])
local scale = math.min(full, (tonumber(redis.call('HGET', state, 'scale')) or full) + step)
redis.call('HSET', state, 'scale', scale)
return scale
"""


class RedisBudgetStore:
    """`BudgetStore` in Redis, shared by every process that names the same server."""

    def __init__(self, url: str) -> None:
        self.redis: Redis = Redis.from_url(url)
        self._acquire = self.redis.register_script(ACQUIRE)
        self._release = self.redis.register_script(RELEASE)
        self._throttled = self.redis.register_script(THROTTLED)
        self._recovered = self.redis.register_script(RECOVERED)

    @staticmethod
    @cache
    def _keys(key: str) -> tuple[str, str, str]:
        """The connection's keys, hash-tagged so a Redis Cluster keeps them on one node."""
        window, flight, state = (f"{KEY_PREFIX}{{{key}}}:{part}" for part in PARTS)
        return window, flight, state

    async def acquire(self, key: str, request: Acquire) -> Admission:
        args: list[Any] = [
            f"{request.now_ms} {request.window_ms} {request.window_limit or 0} "
            f"{request.concurrency} {request.cost} {request.lease_ms} {request.token} "
            f"{FULL_SCALE} {request.share}"
        ]
        if request.released:
            args += _arguments(request.released)
        with _unavailable():
            answer = await self._acquire(keys=self._keys(key), args=args)
        granted, wait_ms, scale = cast("list[int]", answer)
        return Admission(granted=bool(granted), wait_ms=int(wait_ms), scale=int(scale))

    async def release(self, key: str, released: Sequence[Released]) -> None:
        with _unavailable():
            await self._release(keys=self._keys(key)[:2], args=_arguments(released))

    async def throttled(self, key: str, *, now_ms: int, pause_ms: int) -> int:
        args: list[Any] = [now_ms, pause_ms, FULL_SCALE, MIN_SCALE]
        with _unavailable():
            return int(await self._throttled(keys=[self._keys(key)[2]], args=args))

    async def recovered(self, key: str) -> int:
        args: list[Any] = [FULL_SCALE, RECOVERY_STEP]
        with _unavailable():
            return int(await self._recovered(keys=[self._keys(key)[2]], args=args))

    async def aclose(self) -> None:
        await self.redis.aclose()


def _arguments(released: Sequence[Released]) -> list[Any]:
    """The released requests as the scripts read them, one argument each (every argument
    costs the client's encoder a dozen calls)."""
    return [f"{token} {cost} {at_ms}" for token, cost, at_ms in released]


@contextmanager
def _unavailable() -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError) as error:
        raise BudgetStoreUnavailable(f"Redis: {error}") from error
