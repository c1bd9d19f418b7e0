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

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.redis_scripts import Arguments, Scripts, bulk, followed_by
from system_apis.budget import (
    MIN_SCALE,
    RECOVERY_STEP,
    Acquire,
    Admission,
    BudgetStoreUnavailable,
    Released,
)
from system_apis.priority import FULL_SCALE

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript

KEY_PREFIX = "ledgergate:erp-budget:"
PARTS = ("window", "flight", "state")
FREED = PARTS[:2]
"""The keys a release changes: the window (re-stamped) and the requests in flight."""
STATE = PARTS[2:]

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
-- ARGV[1]: 'now window_ms limit concurrency cost lease_ms token full share' (one argument,
-- formatted in one step rather than packed nine times); the released requests follow
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
    """`BudgetStore` in Redis, shared by every process that names the same server. Its
    scripts go out packed on kept connections (`core.redis_scripts`), each connection's
    keys packed once."""

    def __init__(self, url: str) -> None:
        self.redis: Redis = Redis.from_url(url)
        self._scripts = Scripts(self.redis)
        self._acquire = self.redis.register_script(ACQUIRE)
        self._release = self.redis.register_script(RELEASE)
        self._throttled = self.redis.register_script(THROTTLED)
        self._recovered = self.redis.register_script(RECOVERED)

    async def acquire(self, key: str, request: Acquire) -> Admission:
        numbers = (
            f"{request.now_ms} {request.window_ms} {request.window_limit or 0} "
            f"{request.concurrency} {request.cost} {request.lease_ms} {request.token} "
            f"{FULL_SCALE} {request.share}"
        )
        arguments = followed_by(_keys(key), numbers.encode(), *_released(request.released))
        granted, wait_ms, scale = await self._run(self._acquire, 3, arguments)
        return Admission(bool(granted), wait_ms, scale)

    async def release(self, key: str, released: Sequence[Released]) -> None:
        await self._run(self._release, 2, followed_by(_keys(key, FREED), *_released(released)))

    async def throttled(self, key: str, *, now_ms: int, pause_ms: int) -> int:
        numbers = (now_ms, pause_ms, FULL_SCALE, MIN_SCALE)
        arguments = followed_by(_keys(key, STATE), *(b"%d" % n for n in numbers))
        return int(await self._run(self._throttled, 1, arguments))

    async def recovered(self, key: str) -> int:
        numbers = (FULL_SCALE, RECOVERY_STEP)
        arguments = followed_by(_keys(key, STATE), *(b"%d" % n for n in numbers))
        return int(await self._run(self._recovered, 1, arguments))

    async def aclose(self) -> None:
        await self.redis.aclose()

    async def _run(self, script: AsyncScript, keys: int, arguments: Arguments) -> Any:
        try:
            return await self._scripts.run(script, keys, arguments)
        except (RedisError, OSError) as error:
            raise BudgetStoreUnavailable(f"Redis: {error}") from error


@cache
def _keys(key: str, parts: tuple[str, ...] = PARTS) -> Arguments:
    """The connection's keys named by `parts`, packed; hash-tagged so a Redis Cluster
    keeps them on one node."""
    return bulk(*(f"{KEY_PREFIX}{{{key}}}:{part}".encode() for part in parts))


def _released(released: Sequence[Released]) -> list[bytes]:
    """The released requests as the scripts read them, one argument each."""
    return [b"%s %d %d" % (token.encode(), cost, at_ms) for token, cost, at_ms in released]
