"""The servers the benchmarks start: `python -m bench.serve KIND --port N [--workers W]`.

- `gateway`: the gateway exactly as `ledgergate serve` builds it (`create_app()`,
  JSON logging, uvicorn with the same options), configured by `LEDGERGATE_*`;
- `gateway-blocking-redis`: the same gateway whose rate limiter, once started, calls
  `limits`' *synchronous* Redis storage and strategy straight from the async request
  path, as slowapi does: the variant the gateway avoids, kept here to measure it;
- `bare`: the governed read's handler and query (`get_invoice_resource` on the same
  database, same response model and path validation) in a plain FastAPI app with no
  middleware and no dependencies: the baseline that shows what governance costs;
- `dbos-peer`: the same posting as a DBOS Transact workflow (`bench/dbos_peer.py`), the
  peer the posting benchmark measures the gateway against;
- `posting-floor`: the gateway's I/O for one posting with the least Python
  (`bench/posting_floor.py`), the floor the posting benchmark sets beside the gateway;
- `erp-sandbox`: the Business Central sandbox app `ledgergate sandbox erp` serves,
  one process (its ledger lives in memory). With `--mirror-posted` it starts holding
  the gateway database's posted and paid invoices as posted documents, with their
  applied payments in the payment journal, so a reconciliation at scale needs no
  hundred thousand postings over HTTP first (`bench/erp_mirror.py`);
- `billing-sandbox`, `crm-sandbox`, `support-sandbox`: the Stripe, channel CRM and
  support desk sandboxes as `ledgergate sandbox billing|crm|support` serves them, one
  process each, for a gateway configured as in production: every backend a URL, no
  sandbox loaded in the gateway's process.

The gateway kinds, `bare` and `posting-floor` are served with the gateway's HTTP protocol
(`app.governance.protocol`: an answer in one `write()`) and its worker's garbage collector
settings (`app.served_heap`: the startup heap frozen, young collections rarer), so what
they are compared on is their app; the peer and the sandboxes run uvicorn's own.

`--workers` above 1 runs uvicorn's supervisor with that many worker processes, as
in production; each worker builds its own app.

Every kind also runs an event-loop lag probe (how late `asyncio.sleep(0.01)` wakes
up) and serves `GET /bench/stats[?reset=true]`: the probe's percentiles, the HTTP
requests served and, on the gateway kinds, how long the rate limiter spent in its
storage. With several workers the answer is one worker's. Loopback only; the path is
answered in front of the app (no route is added to it) and only in these benchmark servers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from limits import RateLimitItem, WindowStats
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter as SyncSlidingWindow
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.governance.logging import configure_logging
from app.governance.protocol import GatewayProtocol
from app.governance.rate_limit import RateLimiter
from app.governance.rate_window import Guarded, SlidingWindow, Window
from app.main import create_app
from app.served import WORKER_START_SECONDS
from app.served_heap import collect_for_serving
from core.db import create_engine, create_sessionmaker
from core.settings import Settings, get_settings
from process_apis.invoices import service
from process_apis.invoices.params import InvoiceID
from process_apis.invoices.schemas import InvoiceResource

PROBE_INTERVAL = 0.01
SANDBOXES = ("erp-sandbox", "billing-sandbox", "crm-sandbox", "support-sandbox")
KINDS = ("gateway", "gateway-blocking-redis", "bare", *SANDBOXES, "dbos-peer", "posting-floor")
GATEWAY_PROTOCOL_KINDS = ("gateway", "gateway-blocking-redis", "bare", "posting-floor")
KIND_ENV = "BENCH_SERVE_KIND"  # how `build` knows the kind in each worker process
MIRROR_ENV = "BENCH_ERP_MIRROR_POSTED"
STATS_PATH = "/bench/stats"


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


class RequestCounter:
    """Counts the HTTP requests an app serves and answers `GET /bench/stats` itself, in
    front of the app: a route added to the app would come after those `create_app`
    indexed (`app.route_index`), and the gateway's router would then send every request
    FastAPI's slower way, which `ledgergate serve` does not."""

    def __init__(self, app: ASGIApp, stats: Callable[[Request], Awaitable[Response]]) -> None:
        self.app = app
        self.stats = stats
        self.requests = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if scope["path"] == STATS_PATH:
                response = await self.stats(Request(scope, receive))
                await response(scope, receive, send)
                return
            self.requests += 1
        await self.app(scope, receive, send)


class AwaitedStrategy(SlidingWindow):
    """The gateway's own asyncio counter, timed: the loop serves others while it waits."""

    def __init__(self, inner: SlidingWindow, clock: StorageClock) -> None:
        super().__init__(inner.storage)
        self.inner, self.clock = inner, clock

    async def count(
        self, item: RateLimitItem, *identifiers: str, cost: int = 1
    ) -> tuple[bool, WindowStats]:
        started = time.perf_counter()
        try:
            return await self.inner.count(item, *identifiers, cost=cost)
        finally:
            self.clock.add(started)

    async def count_guarded(self, guard: Window, counted: Window, version_key: str) -> Guarded:
        started = time.perf_counter()
        try:
            return await self.inner.count_guarded(guard, counted, version_key)
        finally:
            self.clock.add(started)


class BlockingStrategy(SlidingWindow):
    """`limits`' synchronous strategy behind the async interface, as slowapi calls it: a
    check and its window stats, two calls that each block the loop."""

    def __init__(self, inner: SlidingWindow, storage_url: str, clock: StorageClock) -> None:
        super().__init__(inner.storage)  # the base class wants an async storage; unused here
        self.blocking = SyncSlidingWindow(storage_from_string(storage_url))
        self.clock = clock

    async def count(
        self, item: RateLimitItem, *identifiers: str, cost: int = 1
    ) -> tuple[bool, WindowStats]:
        started = time.perf_counter()
        try:
            if cost:
                allowed = self.blocking.hit(item, *identifiers, cost=cost)
            else:
                allowed = self.blocking.test(item, *identifiers)
            return allowed, self.blocking.get_window_stats(item, *identifiers)
        finally:
            self.clock.add(started)


def instrument(
    app: Starlette, on_start: Callable[[Starlette], Awaitable[None]] | None = None
) -> None:
    """Add the lag probe, the request counter, `/bench/stats` and a start-up hook."""
    probe = LoopLagProbe()
    clock = StorageClock()
    app.state.bench_clock = clock
    counters: list[RequestCounter] = []

    def counting(inner: ASGIApp) -> RequestCounter:
        counters.append(RequestCounter(inner, bench_stats))
        return counters[-1]

    app.add_middleware(counting)  # outermost: every request the app serves
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(instance: Starlette) -> AsyncIterator[Any]:
        async with inner(instance) as state:
            if on_start is not None:
                await on_start(instance)
            task = asyncio.create_task(probe.run())
            try:
                yield state
            finally:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task

    app.router.lifespan_context = lifespan

    async def bench_stats(request: Request) -> Response:
        stats = {
            "pid": os.getpid(),
            "loop_lag_ms": probe.samples_ms(),
            "rate_limit_storage": clock.stats(),
            "requests": sum(counter.requests for counter in counters),
        }
        if request.query_params.get("reset") == "true":
            probe.samples.clear()
            clock.reset()
            for counter in counters:
                counter.requests = 0
        return JSONResponse(stats)


def gateway(settings: Settings, *, blocking_redis: bool) -> FastAPI:
    app = create_app(settings)

    async def swap_strategy(instance: Starlette) -> None:
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


# The sandboxes are imported by their own processes only: a gateway process of the
# benchmarks, as a production one, loads none.


def erp_sandbox(settings: Settings) -> Starlette:
    from bench.erp_mirror import mirror_posted_invoices
    from sandboxes import business_central

    state = business_central.BusinessCentralState()
    app = business_central.create_app(state)

    async def mirror(_: Starlette) -> None:
        if os.environ.get(MIRROR_ENV) == "1":
            await mirror_posted_invoices(
                state, settings.database_url, settings.ledger.payment_journal
            )

    instrument(app, mirror)
    return app


def billing_sandbox(_: Settings) -> Starlette:
    from sandboxes import stripe

    app = stripe.create_app(stripe.StripeState())
    instrument(app)
    return app


def crm_sandbox(_: Settings) -> Starlette:
    from sandboxes import crm

    app = crm.create_app(crm.seeded_state())
    instrument(app)
    return app


def support_sandbox(_: Settings) -> Starlette:
    from sandboxes import support

    app = support.create_app()
    instrument(app)
    return app


def dbos_peer(settings: Settings) -> Starlette:
    # Imported here only: the other kinds (the gateway above all) are measured without DBOS.
    from bench.dbos_peer import create_app as create_peer

    app = create_peer(settings)
    instrument(app)
    return app


def posting_floor(settings: Settings) -> Starlette:
    from bench.posting_floor import create_app as create_floor

    app = create_floor(settings)
    instrument(app)
    return app


BUILDERS: dict[str, Callable[[Settings], Starlette]] = {
    "gateway": lambda settings: gateway(settings, blocking_redis=False),
    "gateway-blocking-redis": lambda settings: gateway(settings, blocking_redis=True),
    "bare": bare,
    "erp-sandbox": erp_sandbox,
    "billing-sandbox": billing_sandbox,
    "crm-sandbox": crm_sandbox,
    "support-sandbox": support_sandbox,
    "dbos-peer": dbos_peer,
    "posting-floor": posting_floor,
}


def build() -> Starlette:
    """The app of the kind `main` chose; uvicorn calls it in each worker process."""
    settings = get_settings()
    configure_logging(settings.log_level)
    kind = os.environ[KIND_ENV]
    app = BUILDERS[kind](settings)
    if kind in GATEWAY_PROTOCOL_KINDS:  # the served worker's collector, as the protocol
        collect_for_serving(app)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--mirror-posted", action="store_true", help="erp-sandbox: hold the posted invoices"
    )
    args = parser.parse_args()
    if args.kind in SANDBOXES and args.workers != 1:
        parser.error("a sandbox keeps its state in memory: one worker only")
    os.environ[KIND_ENV] = args.kind
    os.environ[MIRROR_ENV] = "1" if args.mirror_posted else "0"
    configure_logging(get_settings().log_level)
    uvicorn.run(
        "bench.serve:build",
        factory=True,
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        http=GatewayProtocol if args.kind in GATEWAY_PROTOCOL_KINDS else "auto",
        timeout_worker_healthcheck=WORKER_START_SECONDS,
    )


if __name__ == "__main__":
    main()
