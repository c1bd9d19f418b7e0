"""The ERP budget on each shared store (Redis, SQLite, PostgreSQL): window, concurrency,
adaptive shrink and growth, deadline. Two `ErpBudget`s over one store are two processes."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from core.db import create_engine, create_sessionmaker
from core.settings import ErpLimits
from sandboxes.limits import LimitConfig, VendorLimiter
from system_apis.budget import (
    FULL_SCALE,
    MIN_SCALE,
    RECOVERY_STEP,
    RELEASE_DELAY_SECONDS,
    Acquire,
    Admission,
    BillingBudget,
    BudgetStoreUnavailable,
    ErpBudget,
    ErpBudgetExhausted,
    Released,
)
from system_apis.budget_database import DatabaseBudgetStore
from system_apis.budget_redis import RedisBudgetStore
from system_apis.errors import BackendTransientError
from system_apis.priority import Priority
from tests.support.databases import postgres_database, sqlite_database
from tests.support.lost_scripts import lose_scripts
from tests.support.python_calls import profiled
from tests.support.redis_trips import redis_commands
from tests.support.services import service_missing

REDIS_URL = os.environ.get("LEDGERGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

Store = RedisBudgetStore | DatabaseBudgetStore


@pytest.fixture(
    scope="module",
    params=["redis", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Store]:
    if request.param == "redis":
        try:
            await aioredis.from_url(REDIS_URL).ping()
        except (OSError, RedisError) as error:
            service_missing("Redis", f"{REDIS_URL}: {error}")
        redis_store = RedisBudgetStore(REDIS_URL)
        yield redis_store
        await redis_store.aclose()
        return
    databases = (
        sqlite_database(tmp_path_factory.mktemp("budget"))
        if request.param == "sqlite"
        else postgres_database()
    )
    async with databases as url:
        engine = create_engine(url)
        database_store = DatabaseBudgetStore()
        database_store.bind(create_sessionmaker(engine))
        yield database_store
        await engine.dispose()


def budget(
    store: Store,
    connection: str,
    *,
    window: int | None = 100,
    window_seconds: float = 60.0,
    concurrency: int = 10,
    wait_seconds: float = 5.0,
    interactive_reserve: float = 0.0,
    lease_seconds: float = 30.0,
    release_delay_seconds: float = RELEASE_DELAY_SECONDS,
) -> ErpBudget:
    limits = ErpLimits(
        requests_per_window=window,
        window_seconds=window_seconds,
        max_concurrent_requests=concurrency,
    )
    return ErpBudget(
        connection,
        limits,
        store,
        wait_seconds=wait_seconds,
        lease_seconds=lease_seconds,
        interactive_reserve=interactive_reserve,
        release_delay_seconds=release_delay_seconds,
    )


def connection() -> str:
    return f"erp-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def asks(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each ask of the store was granted: a slot granted at its first ask did not
    wait, whatever the machine's load made the wall clock say."""
    answers: list[bool] = []
    acquire = store.acquire

    async def spy(backend: str, request: Acquire) -> Admission:
        admission = await acquire(backend, request)
        answers.append(admission.granted)
        return admission

    monkeypatch.setattr(store, "acquire", spy)
    return answers


@pytest.fixture
def releases(store: Store, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    """By connection, how many tokens each release round trip of the store freed."""
    freed: dict[str, list[int]] = {}
    release = store.release

    async def spy(backend: str, released: Sequence[Released]) -> None:
        freed.setdefault(backend, []).append(len(released))
        await release(backend, released)

    monkeypatch.setattr(store, "release", spy)
    return freed


def throttle(retry_after: float | None) -> BackendTransientError:
    return BackendTransientError(
        "throttled", backend="erp", operation="op", vendor_status=429, retry_after=retry_after
    )


async def test_the_window_admits_its_limit_then_waits_for_the_oldest_to_leave(
    store: Store, asks: list[bool]
) -> None:
    name = connection()
    first = budget(store, name, window=3, window_seconds=0.6)
    second = budget(store, name, window=3, window_seconds=0.6)
    started = time.monotonic()
    for owner in (first, second, first):
        async with owner.slot(operation="op"):
            pass
    assert asks == [True, True, True]  # each admitted at its first ask
    async with second.slot(operation="op"):
        waited = time.monotonic() - started
    assert waited >= 0.55  # the fourth waited for the first to leave the shared window


async def test_a_request_that_reaches_the_erp_late_counts_until_its_answer(
    store: Store,
) -> None:
    """The ERP counts a request when it arrives, which may be long after its grant (a slow
    network, a proxy's queue): it holds the window until its answer and a window more, so
    the next grant, in another process, never puts two into one of the ERP's windows."""
    window = 0.5
    erp = VendorLimiter(
        "business_central",
        LimitConfig(requests_per_window=1, window_seconds=window, max_concurrent_requests=5),
    )
    name = connection()
    late, prompt = (budget(store, name, window=1, window_seconds=window) for _ in range(2))
    granted = asyncio.Event()

    async def send(owner: ErpBudget, *, on_the_way: float) -> None:
        async with owner.slot(operation="op"):
            granted.set()
            await asyncio.sleep(on_the_way)
            if erp.admit(time.monotonic()) is None:  # arrived: the ERP counts it now
                erp.done()

    delayed = asyncio.create_task(send(late, on_the_way=2 * window))  # past any margin
    await granted.wait()
    await send(prompt, on_the_way=0)
    await delayed
    assert erp.refused == {"window": 0, "concurrency": 0}
    assert erp.served == 2


async def test_a_batch_costs_its_operations(store: Store) -> None:
    name = connection()
    owner = budget(store, name, window=4, wait_seconds=0.3)
    async with owner.slot(operation="batch", cost=3):
        pass
    with pytest.raises(ErpBudgetExhausted):
        async with owner.slot(operation="batch", cost=2):
            pass
    async with owner.slot(operation="single"):
        pass


async def test_billing_reports_exhaustion_with_its_own_problem_type(store: Store) -> None:
    limits = ErpLimits(requests_per_window=1, window_seconds=60.0, max_concurrent_requests=1)
    billing = BillingBudget(
        f"billing-{uuid.uuid4().hex[:12]}", limits, store, wait_seconds=0.2, lease_seconds=30.0
    )
    async with billing.slot(operation="create_usage_record"):
        pass
    with pytest.raises(ErpBudgetExhausted) as exhausted:
        async with billing.slot(operation="create_usage_record"):
            pass
    assert exhausted.value.type_uri() == "https://ledgergate.dev/problems/billing-budget-exhausted"
    assert exhausted.value.status_code == 503


async def test_concurrency_is_shared_by_every_process(store: Store) -> None:
    name = connection()
    first = budget(store, name, concurrency=2)
    second = budget(store, name, concurrency=2, wait_seconds=0.3)
    release = asyncio.Event()
    held = asyncio.Semaphore(0)

    async def hold() -> None:
        async with first.slot(operation="op"):
            held.release()
            await release.wait()

    holders = [asyncio.create_task(hold()) for _ in range(2)]
    await held.acquire()
    await held.acquire()
    started = time.monotonic()
    with pytest.raises(ErpBudgetExhausted) as refused:
        async with second.slot(operation="op"):
            pass
    assert time.monotonic() - started >= 0.2  # it waited for a holder to leave
    assert isinstance(refused.value, BackendTransientError)  # the run is queued, not lost
    release.set()
    await asyncio.gather(*holders)
    async with second.slot(operation="op"):
        pass


async def test_a_429_halves_the_limit_and_pauses_every_caller_until_retry_after(
    store: Store,
) -> None:
    name = connection()
    first, second = budget(store, name, window=100), budget(store, name, window=100)
    with pytest.raises(BackendTransientError):
        async with first.slot(operation="op"):
            raise throttle(0.5)
    assert first.scale == FULL_SCALE // 2
    assert first.effective_limit == 50
    started = time.monotonic()
    async with second.slot(operation="op"):
        assert time.monotonic() - started >= 0.4  # the other process paused too
    assert second.scale == FULL_SCALE // 2 + RECOVERY_STEP  # its success grew it back a step


async def test_successes_grow_the_limit_back_to_the_configured_one(store: Store) -> None:
    name = connection()
    owner = budget(store, name, window=1000)
    for _ in range(3):
        with pytest.raises(BackendTransientError):
            async with owner.slot(operation="op"):
                raise throttle(0.0)
    assert owner.scale == FULL_SCALE // 8
    for _ in range(200):
        async with owner.slot(operation="op"):
            pass
    assert owner.scale == FULL_SCALE
    assert owner.effective_limit == 1000


async def test_the_scale_never_falls_below_its_floor(store: Store) -> None:
    owner = budget(store, connection(), window=1000)
    for _ in range(8):
        with pytest.raises(BackendTransientError):
            async with owner.slot(operation="op"):
                raise throttle(0.0)
    assert owner.scale == MIN_SCALE
    assert owner.effective_limit == 50


async def test_a_wait_past_the_deadline_fails_at_once_as_transient(
    store: Store, asks: list[bool]
) -> None:
    name = connection()
    owner = budget(store, name, wait_seconds=0.5)
    with pytest.raises(BackendTransientError):
        async with owner.slot(operation="op"):
            raise throttle(5.0)
    asks.clear()
    with pytest.raises(ErpBudgetExhausted) as exhausted:
        async with owner.slot(operation="post_sales_invoice"):
            pass
    assert asks == [False]  # refused at the first ask: no point sleeping into a certain failure
    assert exhausted.value.retry_after is not None
    assert exhausted.value.retry_after > 4
    assert exhausted.value.headers["Retry-After"] == "5"


async def test_a_caller_deadline_shortens_the_wait(store: Store) -> None:
    owner = budget(store, connection(), window=1, wait_seconds=30)
    async with owner.slot(operation="op"):
        pass
    with pytest.raises(ErpBudgetExhausted):
        async with owner.slot(operation="op", deadline=time.monotonic() + 0.2):
            pass


async def test_bulk_work_leaves_the_interactive_reserve_of_the_window(
    store: Store, asks: list[bool]
) -> None:
    name = connection()
    bulk = budget(store, name, window=10, wait_seconds=0.3, interactive_reserve=0.2)
    live = budget(store, name, window=10, wait_seconds=0.3, interactive_reserve=0.2)
    async with bulk.slot(operation="batch", cost=8, priority=Priority.BULK):
        pass
    with pytest.raises(ErpBudgetExhausted):  # a month-start batch takes no more than 80 %
        async with bulk.slot(operation="batch", cost=1, priority=Priority.BULK):
            pass
    asks.clear()
    for _ in range(2):  # while a live request, in any process, gets the reserve at once
        async with live.slot(operation="post_sales_invoice"):
            pass
    assert asks == [True, True]


async def test_informational_work_yields_to_bulk_work(store: Store) -> None:
    name = connection()
    owner = budget(store, name, window=10, wait_seconds=0.3, interactive_reserve=0.2)
    async with owner.slot(operation="delivery", cost=6, priority=Priority.INFORMATIONAL):
        pass
    with pytest.raises(ErpBudgetExhausted):  # informational work stops at 60 %
        async with owner.slot(operation="delivery", cost=1, priority=Priority.INFORMATIONAL):
            pass
    async with owner.slot(operation="batch", cost=2, priority=Priority.BULK):
        pass


async def test_waiting_bulk_work_never_holds_the_reserved_concurrency(store: Store) -> None:
    name = connection()
    owner = budget(store, name, concurrency=5, wait_seconds=2.0, interactive_reserve=0.2)
    release = asyncio.Event()

    async def bulk() -> None:
        async with owner.slot(operation="batch", priority=Priority.BULK):
            await release.wait()

    batches = [asyncio.create_task(bulk()) for _ in range(10)]  # more than bulk may hold
    await asyncio.sleep(0.1)
    # Admitted before any batch is released: behind them it would have been refused.
    async with owner.slot(operation="post_sales_invoice"):
        pass
    release.set()
    await asyncio.gather(*batches)


async def test_after_a_429_the_smaller_limit_counts_from_the_pause_end(store: Store) -> None:
    owner = budget(store, connection(), window=10, window_seconds=60.0, wait_seconds=1.0)
    for _ in range(2):
        async with owner.slot(operation="op"):
            pass
    with pytest.raises(BackendTransientError):
        async with owner.slot(operation="op"):
            raise throttle(0.2)
    assert owner.effective_limit == 5

    started = time.monotonic()
    for _ in range(5):  # paced by the smaller limit from the pause's end
        async with owner.slot(operation="op"):
            pass
    assert time.monotonic() - started >= 0.15  # after the pause
    assert not await _admitted(owner, 1)  # the smaller limit (grown a step a success) holds


async def test_after_a_429_the_configured_limit_still_holds_over_the_whole_window(
    store: Store,
) -> None:
    owner = budget(store, connection(), window=10, window_seconds=60.0, wait_seconds=1.0)
    for _ in range(8):
        async with owner.slot(operation="op"):
            pass
    with pytest.raises(BackendTransientError):
        async with owner.slot(operation="op"):
            raise throttle(0.05)
    assert owner.effective_limit == 5  # fewer than the window already holds

    # Not stalled by the smaller limit, which counts from the pause's end ...
    assert await _admitted(owner, 1)
    # ... but ten requests in the window are the ERP's limit, whatever the scale.
    assert not await _admitted(owner, 1)


async def _admitted(owner: ErpBudget, count: int) -> bool:
    """Whether `count` more requests get a slot."""
    try:
        for _ in range(count):
            async with owner.slot(operation="op"):
                pass
    except BackendTransientError:
        return False
    return True


async def test_a_release_rides_the_next_acquire(
    store: Store, asks: list[bool], releases: dict[str, list[int]]
) -> None:
    """One round trip per request: the acquire frees the slot released before it, before
    it counts (a concurrency of one admits each request at its first ask)."""
    name = connection()
    owner = budget(store, name, concurrency=1, release_delay_seconds=3600)
    for _ in range(3):
        async with owner.slot(operation="op"):
            pass
    assert asks == [True, True, True]
    assert name not in releases
    assert owner.pending_releases == 1  # the last one, until an acquire or the delay
    await owner.flush_releases()
    assert releases[name] == [1]
    async with budget(store, name, concurrency=1, wait_seconds=0.2).slot(operation="op"):
        pass  # another process finds the slot free


async def test_a_slot_released_with_no_acquire_after_it_is_freed_after_the_delay(
    store: Store, releases: dict[str, list[int]]
) -> None:
    name = connection()
    first = budget(store, name, concurrency=1, release_delay_seconds=0.05)
    async with first.slot(operation="op"):
        pass
    started = time.monotonic()
    async with budget(store, name, concurrency=1, wait_seconds=2.0).slot(operation="op"):
        waited = time.monotonic() - started
    assert releases[name] == [1]
    assert waited < 1.0  # freed by the delay, not by the 30 s lease


async def test_a_release_after_the_timer_was_set_waits_its_own_delay(
    store: Store, releases: dict[str, list[int]]
) -> None:
    """The timer set for an earlier release (which an acquire then took along) frees no
    younger release early: steady traffic costs no release round trip of its own."""
    name = connection()
    delay = 1.0
    owner = budget(store, name, concurrency=1, release_delay_seconds=delay)
    async with owner.slot(operation="op"):
        pass  # released: the timer is set for a delay from now
    await asyncio.sleep(delay / 2)
    async with owner.slot(operation="op"):
        pass  # took the first release along; released in turn
    await asyncio.sleep(delay * 0.75)  # past the timer, not yet a delay after this release
    assert owner.pending_releases == 1
    assert name not in releases
    await asyncio.sleep(delay)
    assert owner.pending_releases == 0
    assert releases[name] == [1]


async def test_a_process_that_dies_with_released_slots_leaves_them_to_their_lease(
    store: Store,
) -> None:
    name = connection()
    dying = budget(store, name, concurrency=1, lease_seconds=0.3, release_delay_seconds=3600)
    async with dying.slot(operation="op"):
        pass
    assert dying.pending_releases == 1  # never sent: the process is gone
    started = time.monotonic()
    async with budget(store, name, concurrency=1, wait_seconds=2.0).slot(operation="op"):
        waited = time.monotonic() - started
    assert 0.2 <= waited < 1.5  # the slot was held until its lease ended, not for ever


async def test_a_release_whose_round_trip_failed_rides_the_next_one(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = connection()
    owner = budget(store, name, concurrency=1, release_delay_seconds=3600)
    async with owner.slot(operation="op"):
        pass
    carried: list[tuple[Released, ...]] = []
    acquire = store.acquire

    async def down_once(backend: str, request: Acquire) -> Admission:
        carried.append(request.released)
        if len(carried) == 1:
            raise BudgetStoreUnavailable("down")
        return await acquire(backend, request)

    monkeypatch.setattr(store, "acquire", down_once)
    async with owner.slot(operation="op"):  # the store is down: fails open
        pass
    async with owner.slot(operation="op"):  # a concurrency of one: both were freed first
        pass
    assert [len(tokens) for tokens in carried] == [1, 2]
    assert carried[0][0] == carried[1][0]


def redis_only(store: Store) -> RedisBudgetStore:
    if not isinstance(store, RedisBudgetStore):
        pytest.skip("Redis's own")
    return store


async def test_an_acquire_sends_redis_its_request_as_one_argument(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request's nine numbers and token go as one argument after the connection's
    three keys, each released request as one more: the bytes redis-py would have packed."""
    redis_store = redis_only(store)
    wire = redis_commands(monkeypatch)
    owner = budget(store, connection(), window=10, release_delay_seconds=3600)
    for _ in range(2):
        async with owner.slot(operation="op", cost=2):
            pass

    commands = [command.split(b"\r\n")[2:-1:2] for command in wire]
    assert [(name, keys) for name, _, keys, *_ in commands] == [(b"EVALSHA", b"3")] * 2
    assert [len(arguments) - 6 for arguments in commands] == [1, 2]  # the second: a release
    pack = redis_store.redis.connection_pool.connection_class().pack_command
    assert [pack(*arguments) for arguments in commands] == [[command] for command in wire]
    assert owner.pending_releases == 1
    await owner.flush_releases()


# A warm slot on Redis, in cProfile's calls (its event loop's turn included): 505 when
# redis-py's `execute_command` sent each script (its pool, retry and observability layers,
# an encoding per argument, a Python parse per element) and the slot was two generator
# context managers, a UUID and a frozen dataclass; 193 while each round trip went through
# `send_packed_command` and `read_response`, and the free places were found with `any`.
SLOT_CALLS = 185


async def test_a_warm_slot_on_redis_costs_few_python_calls(store: Store) -> None:
    redis_only(store)
    owner = budget(store, connection(), window=100_000, release_delay_seconds=3600)
    for _ in range(3):  # the script loaded, the connection kept, the previous release pending
        async with owner.slot(operation="op"):
            pass
    counts = []
    for _ in range(3):  # the least of three: a busy host's extra turn of the loop is no cost
        with profiled() as seen:
            async with owner.slot(operation="op"):
                pass
        counts.append(seen.total_calls)
        assert not [
            file for (file, _, _), _ in seen.entries if file.endswith(("uuid.py", "contextlib.py"))
        ]
    assert min(counts) <= SLOT_CALLS, counts
    await owner.aclose()


async def test_a_store_that_lost_its_scripts_or_connection_still_counts(store: Store) -> None:
    """A Redis restart: the scripts are sent again, the kept connection is replaced."""
    redis_store = redis_only(store)
    name = connection()
    owner = budget(store, name, concurrency=1, release_delay_seconds=3600)
    async with owner.slot(operation="op"):
        pass
    lose_scripts(
        redis_store._acquire, redis_store._release, redis_store._throttled, redis_store._recovered
    )
    async with owner.slot(operation="op"):
        pass
    for kept in redis_store._scripts.idle:
        host, port = kept._writer.get_extra_info("sockname")[:2]  # type: ignore[union-attr]
        await redis_store.redis.client_kill_filter(addr=f"{host}:{port}")
    async with owner.slot(operation="op"):  # a concurrency of one: each release was taken
        pass
    await owner.flush_releases()
    async with budget(store, name, concurrency=1, wait_seconds=0.2).slot(operation="op"):
        pass  # and the last one freed: nothing is held


async def test_a_slot_cancelled_while_waiting_for_a_place_holds_none(store: Store) -> None:
    """Bulk work takes its own place, then one of the interactive ones: cancelled while it
    waits for the second, it gives the first back."""
    owner = budget(store, connection(), concurrency=2, wait_seconds=2.0, interactive_reserve=0.5)
    release = asyncio.Event()
    held = asyncio.Semaphore(0)

    async def live() -> None:
        async with owner.slot(operation="post_sales_invoice"):
            held.release()
            await release.wait()

    holders = [asyncio.create_task(live()) for _ in range(2)]
    for _ in holders:
        await held.acquire()
    waiting = asyncio.create_task(_enter(owner.slot(operation="batch", priority=Priority.BULK)))
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release.set()
    await asyncio.gather(*holders)
    started = time.monotonic()
    async with owner.slot(operation="batch", priority=Priority.BULK):
        assert time.monotonic() - started < 1.0  # its place was free, not waited for


async def _enter(slot: AbstractAsyncContextManager[None]) -> None:
    async with slot:
        pass


async def test_a_held_slot_is_one_acquire_for_its_requests_and_counts_its_cost(
    store: Store, asks: list[bool], releases: dict[str, list[int]]
) -> None:
    """A sequence of three requests (one a batch of two) draws on one slot of four."""
    name = connection()
    owner = budget(store, name, window=5, concurrency=1, release_delay_seconds=3600)
    later = time.monotonic() + 5
    async with owner.held(cost=4):
        for cost in (1, 1, 2):
            async with owner.slot(operation="op", cost=cost, ends_by=later):
                pass
    assert asks == [True]  # one round trip for the three
    assert owner.pending_releases == 1
    async with owner.slot(operation="op"):  # the fifth of the window
        pass
    with pytest.raises(ErpBudgetExhausted):  # the held four counted
        async with budget(store, name, window=5, wait_seconds=0.2).slot(operation="op"):
            pass


async def test_a_request_beyond_a_held_slot_takes_its_own_after_giving_it_back(
    store: Store, asks: list[bool]
) -> None:
    """A concurrency of one: the request the held cost does not cover (a retry, say) would
    wait for the place its own scope holds; the scope gives it back first."""
    name = connection()
    owner = budget(store, name, concurrency=1, wait_seconds=0.5)
    later = time.monotonic() + 5
    async with owner.held(cost=1):
        for _ in range(3):
            async with owner.slot(operation="op", ends_by=later):
                pass
    assert asks == [True, True, True]  # the held slot, then a slot each, none waited


async def test_a_request_the_held_lease_would_not_cover_takes_its_own_slot(
    store: Store, asks: list[bool]
) -> None:
    name = connection()
    owner = budget(store, name, concurrency=1, lease_seconds=2.0)
    async with owner.held(cost=3):
        async with owner.slot(operation="op", ends_by=time.monotonic() + 1):
            pass
        async with owner.slot(operation="op", ends_by=time.monotonic() + 5):
            pass  # past the held lease: its own slot
        async with owner.slot(operation="op", ends_by=time.monotonic() + 1):
            pass  # the held slot was given back: its own slot too
    assert asks == [True, True, True]


async def test_requests_of_a_held_slot_in_flight_together_take_their_own(
    store: Store, asks: list[bool]
) -> None:
    """At most one request is in flight on a held slot's place."""
    name = connection()
    owner = budget(store, name, concurrency=2)
    later = time.monotonic() + 5
    both = asyncio.Barrier(2)

    async def send() -> None:
        async with owner.slot(operation="op", ends_by=later):
            await both.wait()

    async with owner.held(cost=2):
        await asyncio.gather(send(), send())
    assert asks == [True, True]  # the held slot and one of its own


async def test_a_429_inside_a_held_slot_shrinks_the_budget_and_gives_the_slot_back(
    store: Store,
) -> None:
    name = connection()
    owner = budget(store, name, concurrency=1, wait_seconds=0.2)
    later = time.monotonic() + 5
    async with owner.held(cost=3):
        with pytest.raises(BackendTransientError):
            async with owner.slot(operation="op", ends_by=later):
                raise throttle(retry_after=1)
        assert owner.scale == FULL_SCALE // 2
        with pytest.raises(ErpBudgetExhausted):  # the retry waits for the pause, in vain
            async with owner.slot(operation="op", ends_by=later):
                pass


async def test_a_dead_process_s_held_slot_frees_its_place_after_one_lease(store: Store) -> None:
    """A replica killed mid-posting keeps the held place one request's lease, no longer:
    a recovering worker, which waits less than three leases, gets it."""
    name = connection()
    dead = budget(store, name, concurrency=1, lease_seconds=1.0)
    held = dead.held(cost=4)
    await held.__aenter__()
    await dead.slot(operation="op", ends_by=time.monotonic() + 0.5).__aenter__()  # then killed
    recovering = budget(store, name, concurrency=1, wait_seconds=2.5)
    started = time.monotonic()
    async with recovering.slot(operation="op"):  # ErpBudgetExhausted after 2.5 s otherwise
        pass
    assert time.monotonic() - started > 0.5  # the place was held until the lease ended
