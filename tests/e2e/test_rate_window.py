"""The rate limits' sliding window in Redis: one round trip per check, `limits`' counters."""

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from limits import parse
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string
from redis.exceptions import RedisError

from app.governance.rate_window import (
    RedisSlidingWindow,
    SlidingWindow,
    Window,
    fresh_version,
    sliding_window,
)
from tests.support.lost_scripts import lose_scripts
from tests.support.python_calls import profiled, python_calls
from tests.support.redis_trips import redis_commands, redis_round_trips
from tests.support.services import service_missing

REDIS_URL = os.environ.get("LEDGERGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ITEM = parse("3/minute")
VERSION = "ledgergate:test:version"


@pytest.fixture
async def window() -> AsyncIterator[RedisSlidingWindow]:
    try:
        await aioredis.from_url(REDIS_URL).ping()
    except (OSError, RedisError) as error:
        service_missing("Redis", f"{REDIS_URL}: {error}")
    counter = sliding_window(REDIS_URL)
    assert isinstance(counter, RedisSlidingWindow)
    yield counter
    await counter.redis.aclose()


async def test_a_check_and_its_window_are_one_round_trip(
    window: RedisSlidingWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    await window.count(ITEM, "warm-up", uuid.uuid4().hex)  # a cold server loads the script
    sent = redis_round_trips(monkeypatch)
    key = uuid.uuid4().hex
    verdicts = [await window.count(ITEM, "write", key) for _ in range(4)]
    assert [allowed for allowed, _ in verdicts] == [True, True, True, False]
    assert [stats.remaining for _, stats in verdicts] == [2, 1, 0, 0]
    assert sent == ["EVALSHA"] * 4


async def test_a_look_takes_nothing_from_the_window(window: RedisSlidingWindow) -> None:
    key = uuid.uuid4().hex
    assert (await window.count(ITEM, "auth", key, cost=0))[1].remaining == 3
    await window.count(ITEM, "auth", key)
    allowed, stats = await window.count(ITEM, "auth", key, cost=0)
    assert (allowed, stats.remaining) == (True, 2)


async def guarded_counts(counter: SlidingWindow) -> list[tuple[bool, bool, int]]:
    """A guarded count, then two failures use the guard up, then one more guarded count,
    and a look at the counted window: (guard open, allowed, remaining) of each."""
    guard = Window(parse("2/minute"), ("failed-auth", uuid.uuid4().hex))
    counted = Window(ITEM, ("read", uuid.uuid4().hex))
    answers = [await counter.count_guarded(guard, counted, VERSION)]
    for _ in range(2):
        await counter.count(guard.item, *guard.identifiers)
    answers.append(await counter.count_guarded(guard, counted, VERSION))
    allowed, stats = await counter.count(counted.item, *counted.identifiers, cost=0)
    return [(a.guard_open, a.allowed, a.stats.remaining) for a in answers] + [
        (True, allowed, stats.remaining)
    ]


async def test_a_guarded_count_is_one_round_trip_and_spares_the_window_the_guard_refuses(
    window: RedisSlidingWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    warm_up = Window(ITEM, ("warm-up", uuid.uuid4().hex))
    await window.count_guarded(warm_up, warm_up, VERSION)  # a cold server loads the script
    sent = redis_round_trips(monkeypatch)
    # Counted once (2 left); then the used-up guard answers for itself and takes nothing.
    assert await guarded_counts(window) == [(True, True, 2), (False, False, 0), (True, True, 2)]
    assert sent == ["EVALSHA"] * 5


async def test_in_memory_a_guarded_count_answers_the_same() -> None:
    assert await guarded_counts(sliding_window("memory://")) == [
        (True, True, 2),
        (False, False, 0),
        (True, True, 2),
    ]


async def test_its_counters_are_limits_own(window: RedisSlidingWindow) -> None:
    """A replica on `limits`' two calls and one on the script count in the same window."""
    plain = SlidingWindowCounterRateLimiter(
        storage_from_string(f"async+{REDIS_URL}", implementation="redispy")
    )
    key = uuid.uuid4().hex
    assert await plain.hit(ITEM, "write", key)
    allowed, stats = await window.count(ITEM, "write", key)
    assert (allowed, stats.remaining) == (True, 1)
    reference = await plain.get_window_stats(ITEM, "write", key)
    assert reference.remaining == 1
    assert abs(reference.reset_time - stats.reset_time) < 1
    assert await plain.hit(ITEM, "write", key)
    assert (await window.count(ITEM, "write", key))[0] is False


async def test_the_readiness_check_pings_on_the_counters_own_client(
    window: RedisSlidingWindow,
) -> None:
    """`limits`' storage answers the readiness ping on redis-py, over the counter's pool."""
    assert await window.storage.check()
    assert window.storage.bridge.storage.connection_pool is window.redis.connection_pool  # type: ignore[attr-defined]


async def test_in_memory_the_strategy_is_limits_own() -> None:
    counter = sliding_window("memory://")
    assert type(counter) is SlidingWindow
    key = uuid.uuid4().hex
    results = [await counter.count(ITEM, "read", key) for _ in range(4)]
    assert [(allowed, stats.remaining) for allowed, stats in results] == [
        (True, 2),
        (True, 1),
        (True, 0),
        (False, 0),
    ]


async def test_a_guarded_count_reads_the_version_a_change_sets(window: RedisSlidingWindow) -> None:
    key = f"ledgergate:test:version:{uuid.uuid4().hex}"
    guard = Window(ITEM, ("failed-auth", uuid.uuid4().hex))
    counted = Window(parse("100/minute"), ("read", uuid.uuid4().hex))
    first = (await window.count_guarded(guard, counted, key)).version  # set where missing
    assert first is not None
    assert (await window.count_guarded(guard, counted, key)).version == first
    await window.redis.set(key, fresh_version())
    changed = (await window.count_guarded(guard, counted, key)).version
    assert changed not in (None, first)
    await window.redis.delete(key)
    assert (await window.count_guarded(guard, counted, key)).version not in (first, changed)


async def test_in_memory_a_guarded_count_reads_no_version() -> None:
    guard = Window(ITEM, ("failed-auth", uuid.uuid4().hex))
    counted = Window(ITEM, ("read", uuid.uuid4().hex))
    assert (
        await sliding_window("memory://").count_guarded(guard, counted, VERSION)
    ).version is None


async def test_a_check_borrows_no_connection_from_the_pool_once_warm(
    window: RedisSlidingWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool's borrow and return (a lock, observability records) are not per check."""
    guard = Window(ITEM, ("failed-auth", uuid.uuid4().hex))
    counted = Window(parse("100/minute"), ("read", uuid.uuid4().hex))
    await window.count_guarded(guard, counted, VERSION)
    borrowed: list[object] = []
    get_connection = window.redis.connection_pool.get_connection

    async def recording(*args: Any, **kwargs: Any) -> Any:
        borrowed.append(args)
        return await get_connection(*args, **kwargs)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(window.redis.connection_pool, "get_connection", recording)
    for _ in range(3):
        await window.count_guarded(guard, counted, VERSION)
        await window.count(ITEM, "auth", guard.identifiers[1], cost=0)
    assert borrowed == []


async def test_a_server_that_lost_the_scripts_is_sent_them_and_counts_once(
    window: RedisSlidingWindow,
) -> None:
    key = uuid.uuid4().hex
    await window.count(ITEM, "write", key)
    lose_scripts(window._count)
    allowed, stats = await window.count(ITEM, "write", key)
    assert (allowed, stats.remaining) == (True, 1)
    guard = Window(ITEM, ("failed-auth", uuid.uuid4().hex))
    counted = Window(ITEM, ("read", uuid.uuid4().hex))
    lose_scripts(window._count_guarded)
    assert (await window.count_guarded(guard, counted, VERSION)).stats.remaining == 2


async def test_a_connection_the_server_closed_is_replaced(window: RedisSlidingWindow) -> None:
    key = uuid.uuid4().hex
    await window.count(ITEM, "write", key)
    (kept,) = window._scripts.idle
    host, port = kept._writer.get_extra_info("sockname")[:2]  # type: ignore[union-attr]
    await window.redis.client_kill_filter(addr=f"{host}:{port}")
    allowed, stats = await window.count(ITEM, "write", key)
    assert (allowed, stats.remaining) == (True, 1)


async def test_a_warm_guarded_count_packs_only_its_version(
    window: RedisSlidingWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The windows' keys and limits are packed once; the command is what redis-py packs."""
    guard = Window(ITEM, ("failed-auth", uuid.uuid4().hex))
    counted = Window(parse("100/minute"), ("read", uuid.uuid4().hex))
    await window.count_guarded(guard, counted, VERSION)
    wire = redis_commands(monkeypatch)
    with python_calls() as called:
        await window.count_guarded(guard, counted, VERSION)
    packing = [name for name in called if name.endswith(("rate_window.py:<genexpr>", ":_keys"))]
    assert packing == []
    (command,) = wire
    args = command.split(b"\r\n")[2:-1:2]
    assert window.redis.connection_pool.connection_class().pack_command(*args) == [command]


# A warm guarded count, in cProfile's calls (its event loop's turn included): 228 when
# redis-py's Python parser read the answer's eight elements, about 13 calls each.
CHECK_CALLS = 160


async def test_a_warm_check_costs_few_python_calls(window: RedisSlidingWindow) -> None:
    guard = Window(ITEM, ("failed-auth", uuid.uuid4().hex))
    counted = Window(parse("100/minute"), ("read", uuid.uuid4().hex))
    for _ in range(2):
        await window.count_guarded(guard, counted, VERSION)
    with profiled() as seen:
        await window.count_guarded(guard, counted, VERSION)
    assert seen.total_calls <= CHECK_CALLS
