"""The servers the benchmarks start, one process each: `python -m bench.serve KIND --port N`.

- `gateway`: the gateway exactly as `ledgergate serve` builds it (`create_app()`,
  JSON logging, uvicorn with the same options), configured by `LEDGERGATE_*`;
- `gateway-blocking-redis`: the same gateway whose rate limiter, once started, calls
  `limits`' *synchronous* Redis storage and strategy straight from the async request
  path, as slowapi does: the variant the gateway avoids, kept here to measure it;
- `bare`: the governed read's handler and query (`get_invoice_resource` on the same
  database, same response model and path validation) in a plain FastAPI app with no
  middleware and no dependencies: the baseline that shows what governance costs.

Every kind also runs an event-loop lag probe (how late `asyncio.sleep(0.01)` wakes
up) and serves `GET /bench/stats[?reset=true]`: the probe's percentiles and, on the
gateway kinds, how long the rate limiter spent in its storage per request. Loopback
only; the route exists only in these benchmark servers.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from limits import RateLimitItem, WindowStats
from limits.aio.strategies import SlidingWindowCounterRateLimiter as AsyncSlidingWindow
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter as SyncSlidingWindow

from app.core.db import create_engine, create_sessionmaker
from app.core.settings import Settings, get_settings
from app.governance.logging import configure_logging
from app.governance.rate_limit import RateLimiter
from app.main import create_app
from process_apis.invoices import service
from process_apis.invoices.router import InvoiceID
from process_apis.invoices.schemas import InvoiceResource

PROBE_INTERVAL = 0.01
KINDS = ("gateway", "gateway-blocking-redis", "bare")


class LoopLagProbe:
    """Samples how late the event loop wakes a task that asked to sleep `interval` seconds."""

    def __init__(self, interval: float = PROBE_INTERVAL) -> None:
        self.interval = interval
        self.samples: deque[float] = deque(maxlen=100_000)

    async def run(self) -> None:
        while True:  # perf_counter: uvloop's own clock only has millisecond resolution
            started = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.samples.append(time.perf_counter() - started - self.interval)

    def samples_ms(self) -> list[float]:
        return [round(sample * 1000, 3) for sample in self.samples]


class StorageClock:
    """Time the rate limiter spends in its storage calls, and how many it makes."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    def add(self, started: float) -> None:
        self.seconds += time.perf_counter() - started
        self.calls += 1

    def stats(self) -> dict[str, float]:
        return {"calls": self.calls, "seconds": self.seconds}

    def reset(self) -> None:
        self.seconds, self.calls = 0.0, 0


class AwaitedStrategy(AsyncSlidingWindow):
    """The gateway's own asyncio strategy, timed: the loop serves others while it waits."""

    def __init__(self, inner: AsyncSlidingWindow, clock: StorageClock) -> None:
        super().__init__(inner.storage)
        self.inner, self.clock = inner, clock

    async def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        started = time.perf_counter()
        try:
            return await self.inner.hit(item, *identifiers, cost=cost)
        finally:
            self.clock.add(started)

    async def test(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        return await self.inner.test(item, *identifiers, cost=cost)

    async def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        started = time.perf_counter()
        try:
            return await self.inner.get_window_stats(item, *identifiers)
        finally:
            self.clock.add(started)


class BlockingStrategy(AsyncSlidingWindow):
    """A synchronous `limits` strategy behind the async interface: every call blocks the loop."""

    def __init__(self, inner: AsyncSlidingWindow, storage_url: str, clock: StorageClock) -> None:
        super().__init__(inner.storage)  # the base class wants an async storage; unused here
        self.blocking = SyncSlidingWindow(storage_from_string(storage_url))
        self.clock = clock

    async def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        started = time.perf_counter()
        try:
            return self.blocking.hit(item, *identifiers, cost=cost)
        finally:
            self.clock.add(started)

    async def test(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        return self.blocking.test(item, *identifiers, cost=cost)

    async def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        started = time.perf_counter()
        try:
            return self.blocking.get_window_stats(item, *identifiers)
        finally:
            self.clock.add(started)


def instrument(app: FastAPI, on_start: Callable[[FastAPI], None] | None = None) -> None:
    """Add the lag probe, `/bench/stats` and a start-up hook around the app's own lifespan."""
    probe = LoopLagProbe()
    clock = StorageClock()
    app.state.bench_clock = clock
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(instance: FastAPI) -> AsyncIterator[Any]:
        async with inner(instance) as state:
            if on_start is not None:
                on_start(instance)
            task = asyncio.create_task(probe.run())
            try:
                yield state
            finally:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task

    app.router.lifespan_context = lifespan

    @app.get("/bench/stats", include_in_schema=False)
    async def bench_stats(reset: bool = False) -> dict[str, Any]:
        stats = {"loop_lag_ms": probe.samples_ms(), "rate_limit_storage": clock.stats()}
        if reset:
            probe.samples.clear()
            clock.reset()
        return stats


def gateway(settings: Settings, *, blocking_redis: bool) -> FastAPI:
    app = create_app(settings)

    def swap_strategy(instance: FastAPI) -> None:
        limiter: RateLimiter = instance.state.rate_limiter
        clock: StorageClock = instance.state.bench_clock
        if blocking_redis:
            url = settings.rate_limit_storage_url.removeprefix("async+")
            if not url.startswith("redis://"):
                raise SystemExit("gateway-blocking-redis needs a redis:// rate-limit storage URL")
            limiter.strategy = BlockingStrategy(limiter.strategy, url, clock)
        else:
            limiter.strategy = AwaitedStrategy(limiter.strategy, clock)

    instrument(app, swap_strategy)
    return app


def bare(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
        app.state.sessionmaker = create_sessionmaker(engine)
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/v1/invoices/{invoice_id}", response_model=InvoiceResource)
    async def get_invoice(invoice_id: InvoiceID, request: Request) -> InvoiceResource:
        async with request.app.state.sessionmaker() as session:
            return await service.get_invoice_resource(session, invoice_id)

    instrument(app)
    return app


BUILDERS: dict[str, Callable[[Settings], FastAPI]] = {
    "gateway": lambda settings: gateway(settings, blocking_redis=False),
    "gateway-blocking-redis": lambda settings: gateway(settings, blocking_redis=True),
    "bare": bare,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    settings = get_settings()
    configure_logging(settings.log_level)
    uvicorn.run(
        BUILDERS[args.kind](settings),
        host="127.0.0.1",
        port=args.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
