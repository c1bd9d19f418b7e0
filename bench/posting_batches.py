"""Benchmark: a billing run's queued invoices into the Business Central sandbox at its limits.

Run with `uv run python -m bench.posting_batches [--invoices N] [--naive-invoices M]
[--window-seconds W] [--fault-rate F] [--rate R] [--batch-counted-as request|operations]
[--phases batched,faults,naive]`. Each of three phases (`--phases` picks some) gets a fresh
throwaway database (PostgreSQL on 127.0.0.1:5432, else SQLite) and a gateway in process
with its Business Central sandbox, whose limits are the vendor's request rate (6,000
requests per 300 s, that is 20 a second), 5 concurrent requests and 100 operations per
`$batch`, a `$batch` counted as one request (`--batch-counted-as operations`: as its
operations, the stricter reading, where a run at the vendor's rate takes hours a phase).
`--window-seconds` shortens the sliding window at the same rate (120 requests per 6 s
by default), so a run of a minute or two is measured in steady state rather than in the
first window's burst; `--window-seconds 300` is the vendor's window as published.
`--rate` lowers the rate (requests a second) below the vendor's, to see what the
batching makes of the ERP's ceiling when the ERP, not a busy host, is the bottleneck.

- batched: the N invoices, registered beforehand, posted through `POST
  /v1/posting-batches` (1,000 a request), each with its own run, as bulk work;
- batched with faults: the same, the sandbox failing `--fault-rate` of the requests and
  of the operations inside batches; the queued runs are then replayed (faults still on)
  until every invoice is posted;
- naive: M invoices posted one request at a time through `POST /v1/invoices/{id}/postings`.

The ERP's ceiling for this posting is "allowed requests/s × operations per request ÷
operations per invoice": 20 × 100 ÷ 2 (create with lines, post) = 1,000 invoices a second
where a batch counts as one request, 20 ÷ 2 = 10 where each operation counts. The read of
the posted documents after each batch (one request per 25 of them) is not in the divisor:
the measured operations an invoice (`ERP ops / invoice`) show it, and every retry's. Bulk
work may use 1 - `LEDGERGATE_ERP__INTERACTIVE_RESERVE` (90 %) of the rate. The run
prints and appends to `bench/RESULTS.md`: invoices/s and their ratio to the ceiling
(target ≥ 0.8), the operations the sandbox served, refused (`429`) and at most held in
one window (never over its limit), duplicates and lost invoices (both 0), and batched ÷
naive. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from rich.console import Console
from sqlalchemy import func, select, update

from app.backends import build_backends
from app.governance.auth.clients import create_client
from app.governance.auth.tokens import issue_token
from app.main import create_app
from bench.harness import (
    Database,
    append_results,
    host_line,
    markdown_table,
    rich_table,
    scratch_directory,
    seed_invoices,
    throwaway_database,
)
from core.canonical.documents import InvoiceStatus
from core.db import create_engine, create_sessionmaker
from core.models.base import utcnow
from core.models.invoice import InvoiceRow
from core.models.workflow_run import RunStatus, WorkflowRunRow
from core.scopes import DEFAULT_CLIENT_SCOPES
from core.settings import VENDOR_LIMITS, BatchCounting, Settings
from process_apis.posting_batches.schemas import MAX_ITEMS
from process_apis.workflows import replayer
from sandboxes.demo_estate import DEMO_COMPANIES
from sandboxes.faults import FaultConfig
from sandboxes.limits import LIMITS_PATH

VENDOR = VENDOR_LIMITS["business_central"]
VENDOR_RATE = VENDOR.requests_per_window / VENDOR.window_seconds  # type: ignore[operator]
OPERATIONS_PER_INVOICE = 2
BULK_SHARE = 0.9
TARGET_RATIO = 0.8
COMPANY = DEMO_COMPANIES[0].id
SANDBOX = "http://erp.sandbox"
DRAIN_ROUNDS = 50


@dataclass(frozen=True)
class SandboxLimits:
    """The sandbox's window (seconds), its rate (requests a second) and how it counts a
    `$batch`, which the gateway's budget is configured with too."""

    window: float
    rate: float
    counted_as: BatchCounting

    @property
    def per_window(self) -> int:
        return round(self.rate * self.window)

    @property
    def ceiling(self) -> float:
        """Invoices a second: allowed requests/s × operations per request ÷ per invoice."""
        per_request = VENDOR.operations_per_batch if self.counted_as == "request" else 1
        return self.rate * per_request / OPERATIONS_PER_INVOICE


@dataclass
class Phase:
    name: str
    invoices: int
    seconds: float
    posted: int
    duplicates: int
    served: int
    refused: int
    peak_in_window: int
    window_limit: int
    requests: int

    @property
    def rate(self) -> float:
        return self.posted / self.seconds

    def row(self, ceiling: float | None) -> list[str]:
        ratio = f"{self.rate / ceiling:.2f}" if ceiling else "n/a"
        return [
            self.name,
            str(self.invoices),
            f"{self.seconds:.1f}",
            f"{self.rate:.2f}",
            ratio,
            f"{self.served / max(1, self.posted):.2f}",
            str(self.requests),
            str(self.served),
            str(self.refused),
            f"{self.peak_in_window} / {self.window_limit}",
            str(self.duplicates),
            str(self.invoices - self.posted),
        ]


def settings_for(database: Database, limits: SandboxLimits) -> Settings:
    return Settings(
        environment="test",
        database_url=database.url,
        migrate_on_start=False,
        seed_demo_data=False,
        background_work=False,
        rate_limits={"enabled": False},
        erp={
            "requests_per_window": limits.per_window,
            "window_seconds": limits.window,
            "batch_counted_as": limits.counted_as,
        },
    )


async def run_phase(
    name: str,
    database: Database,
    ids: list[str],
    *,
    limits: SandboxLimits,
    faults: float,
    naive: bool,
) -> Phase:
    settings = settings_for(database, limits)
    transports: dict[str, httpx.AsyncBaseTransport] = {}
    backends = build_backends(settings, wrap=lambda n, inner: transports.setdefault(n, inner))
    app = create_app(settings, backends=backends)
    async with app.router.lifespan_context(app):
        sandbox = httpx.AsyncClient(transport=transports["erp"], base_url=SANDBOX)
        enforced = {
            "requests_per_window": limits.per_window,
            "window_seconds": limits.window,
            "max_concurrent_requests": VENDOR.max_concurrent_requests,
            "batch_counted_as": limits.counted_as,
        }
        (await sandbox.post(LIMITS_PATH, json=enforced)).raise_for_status()
        backends.faults["erp"].configure(FaultConfig(error_rate=faults, seed=7))
        gateway = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://gateway",
            timeout=None,
            auth=FreshToken(await platform_tokens(app, database)),
        )
        started = time.monotonic()
        requests = await (post_naively(gateway, ids) if naive else post_in_batches(gateway, ids))
        await drain(app, database)
        seconds = time.monotonic() - started
        report = (await sandbox.get(LIMITS_PATH)).json()
        books = backends.erp_sandbox
        assert books is not None
        duplicates = books_duplicates(books, ids)
        await gateway.aclose()
        await sandbox.aclose()
    await backends.aclose()
    return Phase(
        name=name,
        invoices=len(ids),
        seconds=seconds,
        posted=await posted_count(database, ids),
        duplicates=duplicates,
        served=report["served"],
        refused=sum(report["refused"].values()),
        peak_in_window=report["peak_in_window"],
        window_limit=limits.per_window,
        requests=requests,
    )


class FreshToken(httpx.Auth):
    """A new token on every request: a batch of a thousand invoices at the vendor's rate
    takes minutes, so a long run outlives one token (`LEDGERGATE_AUTH__TOKEN_TTL`)."""

    def __init__(self, issue: Callable[[], str]) -> None:
        self.issue = issue

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.issue()}"
        yield request


async def platform_tokens(app: Any, database: Database) -> Callable[[], str]:
    """What issues tokens of a new SaaS platform client, with the default scopes."""
    engine = create_engine(database.url)
    try:
        async with create_sessionmaker(engine)() as session:
            row, _ = await create_client(
                session, name="bench-platform", scopes=DEFAULT_CLIENT_SCOPES
            )
            await session.commit()
    finally:
        await engine.dispose()
    auth = app.state.auth

    def issue() -> str:
        token, _ = issue_token(
            auth.ring,
            auth.settings,
            client_id=row.id,
            scopes=sorted(DEFAULT_CLIENT_SCOPES),
            partner_id=None,
            tier=row.tier,
        )
        return token

    return issue


async def post_in_batches(gateway: httpx.AsyncClient, ids: list[str]) -> int:
    for start in range(0, len(ids), MAX_ITEMS):
        chunk = ids[start : start + MAX_ITEMS]
        answer = await gateway.post(
            "/v1/posting-batches",
            json={"invoice_ids": chunk},
            headers={"Idempotency-Key": f"bench-{start}-{time.time_ns()}"},
        )
        answer.raise_for_status()
    return -(-len(ids) // MAX_ITEMS)


async def post_naively(gateway: httpx.AsyncClient, ids: list[str]) -> int:
    for invoice_id in ids:
        answer = await gateway.post(
            f"/v1/invoices/{invoice_id}/postings",
            json={},
            headers={"Idempotency-Key": f"bench-{invoice_id}"},
        )
        answer.raise_for_status()
    return len(ids)


def books_duplicates(books: Any, ids: list[str]) -> int:
    """The invoices the ERP holds more than one document of (one pass over its books)."""
    counts = Counter(
        invoice.external_document_number for invoice in books.books[COMPANY].invoices.values()
    )
    return sum(counts[invoice_id] > 1 for invoice_id in ids)


async def drain(app: Any, database: Database) -> None:
    """Replay the queued runs until none is left, or until `DRAIN_ROUNDS` passes in a row
    claim none of them. A pass makes every queued run due at once and replays all that
    are, the worker's batch at a time, rather than updating every queued row again for
    each batch it claims (30,000 rows a batch of 50 in a run of 100,000 with faults)."""
    engine = create_engine(database.url)
    sessionmaker = create_sessionmaker(engine)
    replay = replayer(app.state.process)
    try:
        rounds = DRAIN_ROUNDS
        while rounds:
            rounds -= 1
            async with sessionmaker.begin() as session:
                queued = await session.scalar(
                    select(func.count()).where(WorkflowRunRow.status == RunStatus.PENDING_RETRY)
                )
                await session.execute(
                    update(WorkflowRunRow)
                    .where(WorkflowRunRow.status == RunStatus.PENDING_RETRY)
                    .values(next_attempt_at=utcnow() - timedelta(seconds=1))
                )
            if not queued:
                return
            while (await replay.run_once()).claimed:  # every due run, before the next pass
                rounds = DRAIN_ROUNDS
    finally:
        await engine.dispose()


async def posted_count(database: Database, ids: list[str]) -> int:
    engine = create_engine(database.url)
    try:
        async with create_sessionmaker(engine)() as session:
            posted = 0
            for start in range(0, len(ids), MAX_ITEMS):  # bound the statement's parameters
                count = await session.scalar(
                    select(func.count()).where(
                        InvoiceRow.id.in_(ids[start : start + MAX_ITEMS]),
                        InvoiceRow.status == InvoiceStatus.POSTED,
                    )
                )
                posted += int(count or 0)
            return posted
    finally:
        await engine.dispose()


def phase(
    name: str, count: int, limits: SandboxLimits, *, faults: float = 0.0, naive: bool = False
) -> Phase:
    with scratch_directory() as scratch, throwaway_database(scratch) as database:
        ids = seed_invoices(database, count, date.today())
        return asyncio.run(
            run_phase(name, database, ids, limits=limits, faults=faults, naive=naive)
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=600)
    parser.add_argument("--naive-invoices", type=int, default=150)
    parser.add_argument("--window-seconds", type=float, default=6.0)
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--rate", type=float, default=VENDOR_RATE)
    parser.add_argument(
        "--batch-counted-as", choices=["request", "operations"], default=VENDOR.batch_counted_as
    )
    parser.add_argument(
        "--phases",
        default="batched,faults,naive",
        help="comma-separated phases to run (batched, faults, naive): a long run may skip some",
    )
    args = parser.parse_args()
    limits = SandboxLimits(args.window_seconds, args.rate, args.batch_counted_as)
    window, rate, ceiling = limits.window, limits.rate, limits.ceiling
    wanted = args.phases.split(",")
    unknown = set(wanted) - {"batched", "faults", "naive"}
    if unknown:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    runs = {
        "batched": lambda: phase("batched", args.invoices, limits),
        "faults": lambda: phase(
            f"batched, {args.fault_rate:.0%} faults", args.invoices, limits, faults=args.fault_rate
        ),
        "naive": lambda: phase(
            "naive (one sync posting at a time)", args.naive_invoices, limits, naive=True
        ),
    }
    phases = {name: runs[name]() for name in runs if name in wanted}
    batched, faulty, naive = (phases.get(name) for name in ("batched", "faults", "naive"))
    columns = [
        "path",
        "invoices",
        "s",
        "invoices/s",
        "÷ ceiling",
        "ERP ops / invoice",
        "gateway requests",
        "ERP ops served",
        "429s",
        f"peak {'requests' if limits.counted_as == 'request' else 'ops'} in a window / limit",
        "duplicates",
        "lost",
    ]
    rows = [p.row(None if p is naive else ceiling) for p in phases.values()]
    console = Console()
    console.print(rich_table("Posting batches into Business Central", columns, rows))
    checks = {
        "nothing over the window's limit": all(
            p.peak_in_window <= p.window_limit for p in phases.values()
        )
    }
    if batched is not None:
        checks[f"batched ÷ ceiling ≥ {TARGET_RATIO}"] = batched.rate / ceiling >= TARGET_RATIO
        checks["0 duplicates, 0 lost"] = (
            batched.duplicates == 0 and batched.posted == batched.invoices
        )
    if faulty is not None:
        checks["0 duplicates, 0 lost (with faults)"] = (
            faulty.duplicates == 0 and faulty.posted == faulty.invoices
        )
    speedup = (
        f"batched ÷ naive: {batched.rate / naive.rate:.2f}x. "
        if batched is not None and naive is not None
        else ""
    )
    command = (
        f"uv run python -m bench.posting_batches --invoices {args.invoices} --naive-invoices "
        f"{args.naive_invoices} --window-seconds {window:g} --fault-rate {args.fault_rate:g}"
        + ("" if rate == VENDOR_RATE else f" --rate {rate:g}")
        + ("" if limits.counted_as == VENDOR.batch_counted_as else " --batch-counted-as operations")
        + ("" if len(phases) == len(runs) else f" --phases {','.join(phases)}")
    )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"## Posting batches into Business Central (`bench/posting_batches.py`), {stamp}\n\n"
        f"`{command}` — {host_line()}. The sandbox at "
        + ("Business Central's rate" if rate == VENDOR_RATE else "a rate below Business Central's")
        + f" ({rate:g} requests/s: {limits.per_window} per {window:g} s sliding window), "
        f"5 concurrent requests, 100 operations per `$batch`, a `$batch` counted as "
        + ("one request" if limits.counted_as == "request" else "its operations")
        + f"; ceiling {ceiling:.2f} invoices/s (requests/s × operations per request ÷ "
        f"{OPERATIONS_PER_INVOICE} an invoice), of which bulk work may use {BULK_SHARE:.0%}.\n\n"
        + markdown_table(columns, rows)
        + f"\n{speedup}"
        + " · ".join(f"{name}: {'yes' if ok else 'NO'}" for name, ok in checks.items())
        + "\n"
    )
    append_results(section)
    if speedup:
        console.print(speedup)
    for name, ok in checks.items():
        console.print(f"{'ok' if ok else 'MISSED'}: {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
