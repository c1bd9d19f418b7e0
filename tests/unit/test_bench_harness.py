"""The benches' Redis state: one run must not count against what an earlier run left."""

import os

import redis

from bench.harness import rate_limit_storage
from system_apis.budget_redis import KEY_PREFIX
from tests.support.services import service_missing

REDIS_URL = os.environ.get("LEDGERGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def test_a_run_starts_with_an_empty_erp_budget_window() -> None:
    """A served gateway with raised ERP limits fills the window; an in-process gateway
    at the vendor's defaults started next must not fail fast against it."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as error:
        service_missing("Redis", f"{REDIS_URL}: {error}")
    left = KEY_PREFIX + "{erp}:window"
    client.zadd(left, {"earlier-run:1": 1})
    with rate_limit_storage(REDIS_URL) as (url, _):
        assert url == REDIS_URL
        assert not client.exists(left)
        client.zadd(left, {"this-run:1": 1})
    assert not client.exists(left)
