"""Two gateway workers, each with its own ERP client and budget over one shared store, post
against one Business Central sandbox with a tiny limit: the sandbox's counters show
what reached it, and nothing went over its limit unanswered."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from starlette.applications import Starlette

from core.settings import BatchCounting, ErpLimits, ErpSettings
from sandboxes.business_central import create_app
from sandboxes.limits import LimitConfig, VendorLimiter
from system_apis.budget import ErpBudget, ErpBudgetExhausted
from system_apis.budget_database import DatabaseBudgetStore
from system_apis.budget_redis import RedisBudgetStore
from system_apis.erp.adapters.business_central import BusinessCentralAdapter
from system_apis.erp.schemas import ErpCustomerUpsert, ErpDocumentStatus
from system_apis.errors import BackendTransientError
from system_apis.http import ResilientClient
from tests.support.budget_stores import database_store
from tests.support.business_central import BC_BASE_URL, US, invoice_request
from tests.support.services import service_missing

REDIS_URL = os.environ.get("LEDGERGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SANDBOX = LimitConfig(requests_per_window=24, window_seconds=1.0, max_concurrent_requests=2)
BY_OPERATION = SANDBOX.model_copy(update={"batch_counted_as": "operations"})
SETTINGS = ErpSettings(
    retry_initial_backoff_seconds=0.01,
    retry_max_backoff_seconds=0.05,
    retry_budget_seconds=20.0,
    circuit_failure_threshold=1000,
)
INVOICES_PER_WORKER = 6
CUSTOMER = ErpCustomerUpsert(
    number="C0001", display_name="Acme", email="ap@acme.example", currency="USD"
)
Store = RedisBudgetStore | DatabaseBudgetStore


def worker(app: Starlette, store: Store | None, limits: ErpLimits, name: str) -> ResilientClient:
    budget = ErpBudget(name, limits, store, wait_seconds=20, lease_seconds=30) if store else None
    return ResilientClient(
        backend=name,
        base_url=BC_BASE_URL,
        settings=SETTINGS,
        transport=httpx.ASGITransport(app=app),
        budget=budget,
    )


async def post(
    adapter: BusinessCentralAdapter, number: str, *, batched: bool = False
) -> ErpDocumentStatus:
    """Post one invoice as a queued run would: a transient failure is tried again, and the
    retry completes the draft it finds by external number, so nothing is posted twice.
    `batched`: its first try creates, posts and reads the document in one `$batch`, as a
    synchronous posting's first attempt does."""
    invoice = invoice_request(number)
    first = batched
    while True:
        try:
            if first:
                return (await adapter.post_new_sales_invoice(US.id, invoice)).status
            draft = await adapter.create_sales_invoice(US.id, invoice)
            if draft.status is ErpDocumentStatus.POSTED:
                return draft.status
            return (await adapter.post_sales_invoice(US.id, draft.id)).status
        except BackendTransientError as error:
            first = False
            await asyncio.sleep(error.retry_after or 0.05)


async def post_from_two_workers(
    store: Store | None,
    budget_limits: ErpLimits,
    connection: str,
    *,
    batched: bool = False,
    sandbox: LimitConfig = SANDBOX,
) -> tuple[VendorLimiter, list[ErpDocumentStatus]]:
    app = create_app()
    limiter: VendorLimiter = app.state.limits
    clients = [worker(app, store, budget_limits, connection) for _ in range(2)]
    adapters = [BusinessCentralAdapter(client) for client in clients]
    await adapters[0].upsert_customer(US.id, CUSTOMER)
    limiter.configure(sandbox)
    numbers = [f"INV-{index}-{n}" for index in range(2) for n in range(INVOICES_PER_WORKER)]
    try:
        statuses = await asyncio.gather(
            *(
                post(adapters[index % 2], number, batched=batched)
                for index, number in enumerate(numbers)
            )
        )
    finally:
        for client in clients:
            await client.aclose()
    books = app.state.business_central
    assert [books.document_count(US.id, number) for number in numbers] == [1] * len(numbers)
    assert len(books.posted_invoices(US.id)) == len(numbers)  # each posted, none twice
    return limiter, statuses


def matching(config: LimitConfig, *, factor: int = 1) -> ErpLimits:
    assert config.requests_per_window is not None
    return ErpLimits(
        requests_per_window=config.requests_per_window * factor,
        window_seconds=config.window_seconds,
        max_concurrent_requests=config.max_concurrent_requests * factor,
        batch_counted_as=config.batch_counted_as,
    )


def assert_kept(limiter: VendorLimiter, statuses: list[ErpDocumentStatus]) -> None:
    assert statuses == [ErpDocumentStatus.POSTED] * (2 * INVOICES_PER_WORKER)
    assert limiter.peak_in_window <= SANDBOX.requests_per_window  # type: ignore[operator]
    assert limiter.peak_concurrent <= SANDBOX.max_concurrent_requests
    assert limiter.served > SANDBOX.requests_per_window  # type: ignore[operator]


class LateTransport(httpx.AsyncBaseTransport):
    """Delivers its first request `delay` seconds after it was sent (a slow network, a
    proxy's queue), the others at once."""

    def __init__(self, app: Starlette, delay: float) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.delay = delay
        self.on_the_way = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.on_the_way.is_set():
            self.on_the_way.set()
            await asyncio.sleep(self.delay)
        return await self.inner.handle_async_request(request)


async def one_request_reaches_the_erp_late(store: Store, connection: str) -> VendorLimiter:
    """Two workers, one request each, at a limit of one a window: the first worker's
    reaches the sandbox two windows after its grant; the second's is sent meanwhile."""
    app = create_app()
    limiter: VendorLimiter = app.state.limits
    config = LimitConfig(requests_per_window=1, window_seconds=0.5, max_concurrent_requests=2)
    limiter.configure(config)
    late = LateTransport(app, delay=2 * config.window_seconds)
    clients = [
        ResilientClient(
            backend=connection,
            base_url=BC_BASE_URL,
            settings=SETTINGS,
            transport=transport,
            budget=ErpBudget(
                connection, matching(config), store, wait_seconds=20, lease_seconds=30
            ),
        )
        for transport in (late, httpx.ASGITransport(app=app))
    ]
    first, second = (BusinessCentralAdapter(client) for client in clients)
    try:
        sent = asyncio.create_task(first.get_company(US.id))
        await late.on_the_way.wait()  # granted, and on its way
        await second.get_company(US.id)
        await sent
    finally:
        for client in clients:
            await client.aclose()
    return limiter


@asynccontextmanager
async def redis_store() -> AsyncIterator[RedisBudgetStore]:
    """The budget's store in the test Redis; missing Redis fails under CI, else skips."""
    try:
        await aioredis.from_url(REDIS_URL).ping()
    except (OSError, RedisError) as error:
        service_missing("Redis", f"{REDIS_URL}: {error}")
    store = RedisBudgetStore(REDIS_URL)
    try:
        yield store
    finally:
        await store.aclose()


async def test_a_request_reaching_the_erp_late_holds_the_database_budget_until_its_answer(
    database_url: str,
) -> None:
    async with database_store(database_url) as store:
        limiter = await one_request_reaches_the_erp_late(store, "erp-db-late")
    assert limiter.refused == {"window": 0, "concurrency": 0}
    assert limiter.served == 2


async def test_a_request_reaching_the_erp_late_holds_the_redis_budget_until_its_answer() -> None:
    async with redis_store() as store:
        limiter = await one_request_reaches_the_erp_late(store, f"erp-redis-late-{uuid.uuid4()}")
    assert limiter.refused == {"window": 0, "concurrency": 0}
    assert limiter.served == 2


# a request at a time, or a first try's one `$batch` of three operations, which the ERP
# counts as one request of its window or as three
MODES = pytest.mark.parametrize(
    ("batched", "sandbox"),
    [
        (False, SANDBOX),
        (True, SANDBOX),
        (True, BY_OPERATION),
    ],
    ids=["step-by-step", "one-batch", "one-batch-counted-by-operation"],
)


@MODES
async def test_two_workers_sharing_the_database_budget_never_meet_a_429(
    database_url: str, batched: bool, sandbox: LimitConfig
) -> None:
    async with database_store(database_url) as store:
        limiter, statuses = await post_from_two_workers(
            store,
            matching(sandbox),
            f"erp-db-{uuid.uuid4()}",
            batched=batched,
            sandbox=sandbox,
        )
    assert_kept(limiter, statuses)
    assert limiter.refused == {"window": 0, "concurrency": 0}


@MODES
async def test_two_workers_sharing_the_redis_budget_never_meet_a_429(
    batched: bool, sandbox: LimitConfig
) -> None:
    async with redis_store() as store:
        limiter, statuses = await post_from_two_workers(
            store,
            matching(sandbox),
            f"erp-redis-{uuid.uuid4()}",
            batched=batched,
            sandbox=sandbox,
        )
    assert_kept(limiter, statuses)
    assert limiter.refused == {"window": 0, "concurrency": 0}


async def test_batched_first_tries_set_above_the_erp_learn_from_429s_and_every_posting_completes(
    database_url: str,
) -> None:
    async with database_store(database_url) as store:
        limiter, statuses = await post_from_two_workers(  # twelve batches: 36 operations
            store,
            matching(BY_OPERATION, factor=2),
            "erp-over-batched",
            batched=True,
            sandbox=BY_OPERATION,
        )
    assert_kept(limiter, statuses)
    assert sum(limiter.refused.values()) > 0  # refused with 429, then retried


async def test_a_budget_set_above_the_erp_learns_from_its_429s_and_every_posting_completes(
    database_url: str,
) -> None:
    async with database_store(database_url) as store:
        limiter, statuses = await post_from_two_workers(
            store, matching(SANDBOX, factor=2), "erp-over"
        )
    assert_kept(limiter, statuses)
    assert sum(limiter.refused.values()) > 0  # refused with 429, then retried


async def test_without_a_budget_the_same_load_is_refused() -> None:
    limiter, statuses = await post_from_two_workers(None, matching(SANDBOX), "erp-bare")
    assert_kept(limiter, statuses)
    assert sum(limiter.refused.values()) > 0


@pytest.mark.parametrize("counted_as", ["request", "operations"])
async def test_a_batch_takes_of_the_budget_what_the_erp_counts_of_it(
    database_url: str, counted_as: BatchCounting
) -> None:
    """A window of three requests: three one-`$batch` postings go at once where BC counts a
    batch as one request; where it counts the three operations, the second must wait."""
    app = create_app()
    limiter: VendorLimiter = app.state.limits
    sandbox = LimitConfig(requests_per_window=3, window_seconds=60, batch_counted_as=counted_as)
    async with database_store(database_url) as store:
        budget = ErpBudget(
            f"erp-counted-{uuid.uuid4()}",
            matching(sandbox),
            store,
            wait_seconds=0.3,
            lease_seconds=30,
        )
        client = ResilientClient(
            backend="erp",
            base_url=BC_BASE_URL,
            settings=SETTINGS,
            transport=httpx.ASGITransport(app=app),
        )
        adapter = BusinessCentralAdapter(client)
        await adapter.upsert_customer(US.id, CUSTOMER)
        await adapter.post_new_sales_invoice(US.id, invoice_request("WARM"))  # the accounts
        limiter.configure(sandbox)
        client.budget = budget
        outcomes: list[ErpDocumentStatus | str] = []
        try:
            for number in ("INV-1", "INV-2", "INV-3"):
                try:
                    outcomes.append(
                        (
                            await adapter.post_new_sales_invoice(US.id, invoice_request(number))
                        ).status
                    )
                except BackendTransientError as error:
                    outcomes.append(error.slug)
        finally:
            await client.aclose()
    exhausted = ErpBudgetExhausted.slug
    if counted_as == "request":
        assert outcomes == [ErpDocumentStatus.POSTED] * 3
    else:
        assert outcomes == [ErpDocumentStatus.POSTED, exhausted, exhausted]
    assert limiter.peak_in_window == 3
    assert limiter.refused == {"window": 0, "concurrency": 0}
