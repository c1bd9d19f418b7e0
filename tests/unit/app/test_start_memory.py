"""A gateway worker does at start only what serving needs: no argon2 hash (it takes
64 MiB) until someone signs in to the console, no scrypt hash (16 MiB) until a client
asks for a token, no Redis client (15 MiB) when nothing is counted in Redis, no
Alembic when it does not migrate, and neither the background work (its relay, the NATS
client, aiohttp for webhook deliveries) when it does not run them nor Jinja2 until a
console page is rendered, nor httpx's command-line client (rich, pygments), nor pydantic's
bundled v1 (FastAPI imports it only to refuse v1 models). Counting in
Redis, it loads one Redis client library (redis-py), not `limits`' default coredis too."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.governance.rate_window import sliding_window

PROBE = """
import hashlib
import sys
scrypts = []
hashlib.scrypt = lambda *args, **kwargs: scrypts.append(args)
LAZY = ("process_apis.worker", "events.relay", "nats", "aiohttp", "jinja2", "rich", "pygments",
        "pydantic.v1")
from app.main import create_app
from app.experience.console.passwords import _unknown, verify_password
create_app()
loaded = {name for name, module in sys.modules.items() if module is not None}  # None: refused
print(_unknown.cache_info().currsize, "alembic" in loaded, len(scrypts), "redis" in loaded)
print(sorted(set(LAZY) & set(loaded)))
verify_password(None, "guess")
print(_unknown.cache_info().currsize)
"""


def test_a_worker_starts_without_hashing_redis_or_alembic() -> None:
    env = {
        **os.environ,
        "LEDGERGATE_MIGRATE_ON_START": "false",
        "LEDGERGATE_SEED_DEMO_DATA": "false",
        "LEDGERGATE_BACKGROUND_WORK": "false",
        "LEDGERGATE_RATE_LIMIT_STORAGE_URL": "memory://",
    }
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    assert probe.stdout.split("\n")[:3] == ["0 False 0 False", "[]", "1"]  # hashed at sign-in


REDIS_PROBE = """
import sys
from app.governance.rate_limit import RateLimiter
from core.settings import RateLimitSettings
limiter = RateLimiter(RateLimitSettings(), "redis://127.0.0.1:6379/15")
shared = limiter.storage.bridge.storage.connection_pool is limiter.strategy.redis.connection_pool
import redis
below_8 = int(redis.__version__.split(".")[0]) < 8
print(sorted({"coredis", "beartype", "valkey"} & set(sys.modules)), shared, below_8)
"""


def test_a_worker_counting_in_redis_loads_one_redis_client() -> None:
    """The readiness check's `limits` storage and the counter share redis-py and its pool:
    coredis and beartype cost a worker 7 to 11 MiB resident for that one ping; redis-py 8
    (which `limits` does not support) 2.3 MiB more than 7 to import."""
    probe = subprocess.run(
        [sys.executable, "-c", REDIS_PROBE], capture_output=True, text=True, check=True
    )
    assert probe.stdout == "[] True True\n"


def test_served_workers_import_nothing_of_the_cli() -> None:
    """uvicorn's spawned workers re-import the main module of `ledgergate serve`'s
    process, `app.served`: no typer, rich, YAML or CLI command module comes with it."""
    probe = subprocess.run(
        [sys.executable, "-c", SERVED_PROBE], capture_output=True, text=True, check=True
    )
    assert probe.stdout == "[]\n"


SERVED_PROBE = """
import sys
import app.served
print(sorted({"typer", "rich", "yaml", "app.cli", "app.main"} & set(sys.modules)))
"""


def test_serve_replaces_itself_with_the_small_main_module(monkeypatch: pytest.MonkeyPatch) -> None:
    execs: list[list[str]] = []

    def record(path: str, argv: list[str]) -> None:
        execs.append(argv)
        raise SystemExit(0)

    monkeypatch.setattr(os, "execv", record)
    result = CliRunner().invoke(app, ["serve", "--host", "127.0.0.1", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert execs == [[sys.executable, "-m", "app.served", "127.0.0.1", "8123", "1"]]


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "rediss://127.0.0.1:6380/0",
        "redis+unix:///run/redis.sock",
        "redis+sentinel://127.0.0.1:26379/primary",
        "redis+cluster://127.0.0.1:7000",
    ],
)
def test_every_redis_storage_is_built_on_redis_py(url: str) -> None:
    """coredis is not installed: a Redis storage of any kind `limits` knows runs on redis-py."""
    storage = sliding_window(url).storage
    assert type(storage.bridge).__name__ == "RedispyBridge"  # type: ignore[attr-defined]
