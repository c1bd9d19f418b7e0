"""Scripts sent packed on kept connections (`core.redis_scripts`): their answers, their
errors, a connection the server dropped, and what a round trip costs in Python."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from core.redis_scripts import Scripts, bulk
from tests.support.python_calls import profiled
from tests.support.services import service_missing

REDIS_URL = os.environ.get("LEDGERGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ECHO = "return {tonumber(ARGV[1]) + 1, ARGV[2]}"
FAILING = "return redis.error_reply('refused here')"

# A warm round trip, in cProfile's calls (its event loop's turn included): 105 through
# `send_packed_command` and `read_response` (their checks, `writelines`, a `drain` that
# waits for nothing, the host named for an error that did not happen), 95 without.
ROUND_TRIP_CALLS = 100


@pytest.fixture(params=["", "?socket_timeout=5"], ids=["plain", "socket-timeout"])
async def redis(request: pytest.FixtureRequest) -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL + request.param)
    try:
        await client.ping()
    except (OSError, RedisError) as error:
        service_missing("Redis", f"{REDIS_URL}: {error}")
    yield client
    await client.aclose()


async def test_a_script_answers_on_its_kept_connection(redis: Redis) -> None:
    scripts = Scripts(redis)
    echo = redis.register_script(ECHO)
    for n in range(3):
        assert await scripts.run(echo, 0, bulk(b"%d" % n, b"x")) == [n + 1, b"x"]
    assert len(scripts.idle) == 1


async def test_an_error_reply_is_raised_and_the_connection_kept(redis: Redis) -> None:
    scripts = Scripts(redis)
    failing = redis.register_script(FAILING)
    echo = redis.register_script(ECHO)
    with pytest.raises(ResponseError, match="refused here"):
        await scripts.run(failing, 0, bulk())
    assert await scripts.run(echo, 0, bulk(b"1", b"y")) == [2, b"y"]


async def test_a_connection_the_server_dropped_is_replaced(redis: Redis) -> None:
    scripts = Scripts(redis)
    echo = redis.register_script(ECHO)
    await scripts.run(echo, 0, bulk(b"1", b"a"))
    kept = scripts.idle[0]
    host, port = kept._writer.get_extra_info("sockname")[:2]  # type: ignore[attr-defined]
    await redis.client_kill_filter(_type=None, addr=f"{host}:{port}")
    assert await scripts.run(echo, 0, bulk(b"2", b"b")) == [3, b"b"]
    assert scripts.idle == [kept]
    assert kept.is_connected


async def test_a_warm_round_trip_costs_few_python_calls(redis: Redis) -> None:
    if redis.connection_pool.connection_kwargs.get("socket_timeout"):
        pytest.skip("a socket timeout goes through redis-py's own send and read")
    scripts = Scripts(redis)
    echo = redis.register_script(ECHO)
    await scripts.run(echo, 0, bulk(b"1", b"a"))
    with profiled() as seen:
        await scripts.run(echo, 0, bulk(b"1", b"a"))
    assert seen.total_calls <= ROUND_TRIP_CALLS
