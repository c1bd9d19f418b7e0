"""What the HTTP benchmarks share: a throwaway database, server processes, the load generator.

Everything binds to and talks over loopback. Servers run as `python -m bench.serve`
children in their own sessions and are stopped (TERM, then KILL) when the `with`
block ends, however it ends; a throwaway PostgreSQL database is dropped after them,
and a SQLite fallback lives in a temporary directory that is removed. Each server's
peak resident memory (`VmHWM`) can be read, per process, while it runs. Servers start
from compiled bytecode, as the production image's do (`compile_bytecode`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any, cast

import asyncpg  # type: ignore[import-untyped]
import httpx
import redis
from rich.table import Table

from app.governance.auth.clients import create_client
from app.runtime import prepare_database
from app.sandbox_servers import API_ROOTS
from app.seed import demo_id
from bench.loadgen import Plan, Result
from bench.server_cpu import reaped_cpu_ticks, redis_cpu_seconds, stat_cpu_ticks
from core.canonical.documents import InvoiceCreate
from core.db import create_engine, create_sessionmaker
from core.scopes import DEFAULT_CLIENT_SCOPES
from core.settings import env_name
from process_apis.invoices.service import create_invoice
from system_apis.budget_redis import KEY_PREFIX

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).with_name("RESULTS.md")
POSTGRES_ADMIN_DSN = os.environ.get(
    "LEDGERGATE_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
DEMO_CLIENT = ("demo-platform", "demo-platform-secret")
# The platform's scopes and the operator's the scale benchmark needs (runs, audit, ops).
OPERATOR_CLIENT = ("bench-operator", "bench-operator-secret")
OPERATOR_SCOPES = DEFAULT_CLIENT_SCOPES | {"settlements:write", "audit:read", "ops:read"}
PLATFORM_CLIENT_ID = "bench-platform"
REDIS_URL = os.environ.get("LEDGERGATE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
# What a run leaves in Redis: every key `limits` writes (async and sync alike) and the ERP
# budget's window. A gateway of an earlier run, with other ERP limits, would otherwise have
# filled the window this run's gateway counts against (its requests then fail fast).
BENCH_KEYS = ("LIMITS*", KEY_PREFIX + "*")
START_TIMEOUT = 60.0
# The limiter still counts every request (same storage calls), it just never refuses one.
UNREFUSING_TIERS = (
    '{"standard": {"read": "1000000000/minute", "write": "1000000/minute", "system": "60/minute"}}'
)


def host_line() -> str:
    return (
        f"{os.cpu_count()} CPU, load {os.getloadavg()[0]:.1f}, Python {platform.python_version()}"
    )


@dataclass(frozen=True)
class Database:
    url: str
    description: str
    platform_client: tuple[str, str] = ("", "")
    """A platform client (id, secret) with the demo platform's scopes whose secret the
    gateway generated, as every production client's is: its token requests cost what
    theirs do. The demo clients' secrets are chosen (scrypt) and development-only."""


async def _prepare(url: str) -> tuple[str, str]:
    """Migrate and seed as `ledgergate serve` does in development, plus the operator client
    and the platform client (its id and generated secret returned)."""
    await prepare_database(url, seed=True, demo_clients=True)
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            await create_client(
                session,
                name=OPERATOR_CLIENT[0],
                client_id=OPERATOR_CLIENT[0],
                secret=OPERATOR_CLIENT[1],
                scopes=OPERATOR_SCOPES,
            )
            _, secret = await create_client(
                session,
                name=PLATFORM_CLIENT_ID,
                client_id=PLATFORM_CLIENT_ID,
                scopes=DEFAULT_CLIENT_SCOPES,
            )
            await session.commit()
    finally:
        await engine.dispose()
    return PLATFORM_CLIENT_ID, secret


async def _create_postgres() -> str | None:
    name = f"lg_bench_{uuid.uuid4().hex[:12]}"
    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


async def _drop_postgres(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@contextmanager
def throwaway_database(scratch: Path) -> Iterator[Database]:
    """A migrated, seeded PostgreSQL database (dropped afterwards), else a SQLite file."""
    url = asyncio.run(_create_postgres())
    if url is None:
        sqlite = f"sqlite+aiosqlite:///{scratch / 'ledgergate-bench.db'}"
        print(f"note: PostgreSQL unreachable at {POSTGRES_ADMIN_DSN}; falling back to SQLite")  # noqa: T201
        platform = asyncio.run(_prepare(sqlite))
        yield Database(sqlite, "SQLite (PostgreSQL unreachable)", platform)
        return
    try:
        platform = asyncio.run(_prepare(url))
        yield Database(url, "PostgreSQL (throwaway database, 127.0.0.1:5432)", platform)
    finally:
        asyncio.run(_drop_postgres(url))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class PeakMemory:
    """One process's peak resident set size (`VmHWM`), in MiB."""

    pid: int
    role: str
    peak_mib: float


def _peak_mib(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def _cpu_seconds(pid: int) -> float:
    """utime + stime of one process from `/proc/PID/stat` (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    return stat_cpu_ticks(stat) / os.sysconf("SC_CLK_TCK")


def named_cpu_seconds(name: str) -> float:
    """CPU time (user + system) every process named `name` (its `comm`) has used so far:
    all of a database server's backends, say (Linux `/proc`; 0 elsewhere).

    A backend that exits takes its time out of the live processes' sum; its parent's
    count of exited children gets it (once the parent has waited for it), so the total
    adds, for the processes whose parent has another name (the server's supervisor),
    what their exited children used, and never goes back."""
    named: dict[int, tuple[int, str]] = {}  # pid: (parent pid, stat text)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if text[text.find("(") + 1 : text.rfind(")")] == name:
            named[int(stat.parent.name)] = (int(text.rsplit(")", 1)[1].split()[1]), text)
    total = sum(stat_cpu_ticks(text) for _, text in named.values())
    total += sum(reaped_cpu_ticks(text) for ppid, text in named.values() if ppid not in named)
    return total / os.sysconf("SC_CLK_TCK")


def redis_seconds(storage_url: str) -> Callable[[], float] | None:
    """The Redis server's CPU seconds so far, read by `INFO cpu` (None for memory storage)."""
    if not storage_url.startswith("redis"):
        return None
    client = redis.Redis.from_url(storage_url, socket_timeout=5)
    return lambda: redis_cpu_seconds(cast(dict[str, Any], client.info("cpu")))


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux `/proc`; none elsewhere)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


UNLIMITED_ERP = {
    "LEDGERGATE_SANDBOX_LIMITS_ERP": '{"requests_per_window": 1000000000, '
    '"max_concurrent_requests": 1000000}',
    "LEDGERGATE_ERP__REQUESTS_PER_WINDOW": "1000000000",
    "LEDGERGATE_ERP__MAX_CONCURRENT_REQUESTS": "1000000",
}
"""The gateway's own cost is measured far below the ERP's limits (Business Central's
6,000 requests per 5 minutes would otherwise be the ceiling of every run); a benchmark
of posting at the limit passes the vendor's figures in `env`."""


PRODUCTION_MALLOC = {"MALLOC_MMAP_THRESHOLD_": "1048576"}
"""The allocator setting the production image runs with (`Dockerfile`)."""


BYTECODE = ROOT / "var" / "bench-bytecode"
"""The bench servers' bytecode directory (`PYTHONPYCACHEPREFIX`), compiled as the image's."""


@cache
def compile_bytecode() -> None:
    """Compile the standard library's, the environment's and the project's modules into
    `BYTECODE` once per run, as the production image does when it is built (`python -m
    app.bytecode`: the dependencies' without docstrings, ours as they are); up-to-date files
    are skipped. Servers run with `PYTHONPYCACHEPREFIX` set to it, as the image's do.

    A server importing from source compiles every module at each start, and the compiler's
    freed memory stays resident in its process: a worker counting rate limits in Redis
    held 10 MiB more started from source (redis-py alone: 22 MiB from source, 6 MiB from
    bytecode). The benchmarks measure the image's servers, so they start from bytecode.
    """
    subprocess.run(
        [sys.executable, "-m", "app.bytecode", str(BYTECODE), "bench"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        check=True,
    )


def backend_sandboxes(database: Database, scratch: Path) -> dict[str, Server]:
    """The ERP, billing, CRM and support sandboxes, a process each (`bench.serve`), by
    backend: what `ledgergate sandbox all` serves a development estate."""
    return {backend: Server(f"{backend}-sandbox", database, scratch) for backend in API_ROOTS}


def backend_urls(sandboxes: dict[str, Server]) -> dict[str, str]:
    """The gateway's `LEDGERGATE_<BACKEND>__URL` for each sandbox: every backend over HTTP,
    as in production, where the gateway loads no sandbox (`app/backends.py`)."""
    return {
        env_name(backend, "url"): server.base_url + API_ROOTS[backend]
        for backend, server in sandboxes.items()
    }


class Server:
    """One `bench.serve` process on a loopback port, with `workers` uvicorn workers."""

    def __init__(
        self,
        kind: str,
        database: Database,
        scratch: Path,
        *,
        workers: int = 1,
        args: tuple[str, ...] = (),
        **env: str,
    ) -> None:
        self.kind = kind
        self.database = database
        self.workers = workers
        self.args = args
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = scratch / f"{kind}-{self.port}.log"
        self.env = {
            **os.environ,
            "LEDGERGATE_DATABASE_URL": database.url,
            "LEDGERGATE_MIGRATE_ON_START": "false",  # done once, before any server starts
            "LEDGERGATE_SEED_DEMO_DATA": "false",
            "LEDGERGATE_BACKGROUND_WORK": "false",  # as production: measured without a worker
            "LEDGERGATE_RATE_LIMIT_STORAGE_URL": "memory://",
            "LEDGERGATE_RATE_LIMITS__TIERS": UNREFUSING_TIERS,
            **UNLIMITED_ERP,
            **PRODUCTION_MALLOC,
            "PYTHONPYCACHEPREFIX": str(BYTECODE),
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        compile_bytecode()
        command = [sys.executable, "-m", "bench.serve", self.kind, "--port", str(self.port)]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [*command, "--workers", str(self.workers), *self.args],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} server exited at start:\n{self.log_tail()}")
            if self._workers_ready():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.kind} server did not start in {START_TIMEOUT} s")

    def _workers_ready(self) -> bool:
        """Whether every worker answers (each answer names the worker's pid)."""
        pids = set()
        try:
            for _ in range(self.workers * 8):
                response = httpx.get(f"{self.base_url}/bench/stats", timeout=1)
                if response.status_code != 200:
                    return False
                pids.add(response.json()["pid"])
                if len(pids) == self.workers:
                    return True
        except httpx.TransportError:
            return False
        return False

    def stats(self, *, reset: bool = False) -> dict[str, Any]:
        """The probe's loop-lag samples (ms), requests served and the limiter's storage time.

        Since the last reset, in one process: meaningful only with one worker.
        """
        response = httpx.get(f"{self.base_url}/bench/stats", params={"reset": reset}, timeout=10)
        response.raise_for_status()
        stats: dict[str, Any] = response.json()
        return stats

    def peak_memory(self) -> list[PeakMemory]:
        """Peak RSS of the server's processes: the supervisor and its workers, or the one."""
        if self.process is None:
            return []
        root = self.process.pid
        workers = _children(root)
        pids = [(root, "supervisor" if self.workers > 1 else "server")]
        pids += [(pid, "worker") for pid in workers if self._is_worker(pid)]
        return [
            PeakMemory(pid, role, peak)
            for pid, role in pids
            if (peak := _peak_mib(pid)) is not None
        ]

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server's processes have used so far, workers included."""
        if self.process is None:
            return 0.0
        root = self.process.pid
        return sum(_cpu_seconds(pid) for pid in (root, *_children(root)))

    @staticmethod
    def _is_worker(pid: int) -> bool:
        """uvicorn's workers, not multiprocessing's helpers (its resource tracker)."""
        try:
            return b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


def memory_line(server: Server) -> str:
    """`gateway: supervisor 60 MiB, workers 140 + 138 MiB` (peak RSS so far)."""
    peaks = server.peak_memory()
    parts = [f"{p.role} {p.peak_mib:.0f} MiB" for p in peaks if p.role != "worker"]
    workers = [f"{p.peak_mib:.0f}" for p in peaks if p.role == "worker"]
    if workers:
        parts.append(f"worker{'s' if len(workers) > 1 else ''} {' + '.join(workers)} MiB")
    return f"{server.kind}: {', '.join(parts)}"


def redis_unreachable(url: str) -> str | None:
    try:
        redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        return repr(error)
    return None


def clear_limits_keys(url: str) -> int:
    client = redis.Redis.from_url(url, socket_timeout=5)
    keys = [key for match in BENCH_KEYS for key in client.scan_iter(match=match, count=1000)]
    if keys:
        client.delete(*keys)
    return len(keys)


@contextmanager
def rate_limit_storage(url: str = REDIS_URL) -> Iterator[tuple[str, str]]:
    """Redis at `url` (its limiter and ERP budget keys cleared before and after), else memory:
    (URL, note).

    Several workers must share their counters, as replicas do in production, so a
    gateway with workers counts in Redis; memory storage, per process, is the fallback.
    """
    unreachable = redis_unreachable(url)
    if unreachable is not None:
        yield "memory://", f"memory (Redis unreachable at {url}: counted per worker)"
        return
    clear_limits_keys(url)
    try:
        yield url, f"Redis ({url})"
    finally:
        clear_limits_keys(url)


@contextmanager
def in_process_gateway(**environment: str) -> Iterator[tuple[Database, str]]:
    """A throwaway database and the rate limiters' storage, with the environment a gateway
    created in this process reads: no migration on start, no demo data, no background work,
    limits that never refuse; `environment` adds to it. Yields the database and a note on
    where limits count."""
    with (
        scratch_directory() as scratch,
        throwaway_database(scratch) as database,
        rate_limit_storage() as (storage_url, storage),
    ):
        os.environ.update(
            {
                "LEDGERGATE_DATABASE_URL": database.url,
                "LEDGERGATE_MIGRATE_ON_START": "false",
                "LEDGERGATE_SEED_DEMO_DATA": "false",
                "LEDGERGATE_BACKGROUND_WORK": "false",
                "LEDGERGATE_RATE_LIMIT_STORAGE_URL": storage_url,
                "LEDGERGATE_RATE_LIMITS__TIERS": UNREFUSING_TIERS,
                "LEDGERGATE_LOG_LEVEL": "INFO",
                **environment,
            }
        )
        yield database, storage


@contextmanager
def running(servers: list[Server]) -> Iterator[list[Server]]:
    """Start the servers one after the other; stop every one of them on the way out."""
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


def issue_token(server: Server, scope: str, client: tuple[str, str] = DEMO_CLIENT) -> str:
    response = httpx.post(
        f"{server.base_url}/oauth/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=client,
        timeout=10,
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def invoice_body(day: date, *, product_id: str | None = None) -> dict[str, Any]:
    """The README tour's invoice: one line, US sales tax, totals that add up.

    With `product_id` the line sells that catalog product (commissionable for a partner).
    """
    body: dict[str, Any] = {
        "customer_id": demo_id("customer", 1),
        "currency": "USD",
        "invoice_date": day.isoformat(),
        "due_date": (day + timedelta(days=30)).isoformat(),
        "lines": [
            {
                "description": "Ledgergate Pro, monthly",
                "quantity": 3,
                "unit_amount": 4900,
                "amount": 14700,
                "tax_code": "STANDARD",
                "tax_amount": 1305,
            }
        ],
        "subtotal": 14700,
        "tax_total": 1305,
        "total": 16005,
    }
    if product_id is not None:
        body["lines"][0]["product_id"] = product_id
    return body


def register_invoices(server: Server, token: str, count: int) -> list[str]:
    """Invoices to read, registered through the governed `POST /v1/invoices`."""
    ids = []
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        for _ in range(count):
            response = client.post(
                "/v1/invoices",
                json=invoice_body(date.today()),
                headers={"Authorization": f"Bearer {token}"},
            )
            response.raise_for_status()
            ids.append(response.json()["id"])
    return ids


SEED_CHUNK = 1000
"""Invoices seeded per transaction."""


def seed_invoices(database: Database, count: int, day: date) -> list[str]:
    """Open invoices (the README tour's), registered in process by the service the API calls."""
    data = InvoiceCreate.model_validate(invoice_body(day))

    async def seed() -> list[str]:
        engine = create_engine(database.url)
        ids: list[str] = []
        try:
            async with create_sessionmaker(engine)() as session:
                for start in range(0, count, SEED_CHUNK):
                    for _ in range(min(SEED_CHUNK, count - start)):
                        ids.append((await create_invoice(session, data=data)).id)
                    await session.commit()
                    session.expunge_all()  # a hundred thousand rows never held at once
                return ids
        finally:
            await engine.dispose()

    return asyncio.run(seed())


def generate(plan: Plan) -> Result:
    """Run the load generator in its own process and return what it measured."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.loadgen"],
        input=plan.model_dump_json(),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=plan.duration + 60,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{completed.stderr[-2000:]}")
    return Result.model_validate_json(completed.stdout)


def percentile(samples: list[float], q: int) -> float:
    if len(samples) < 2:
        return float("nan")
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


@dataclass
class Measured:
    """Load results pooled over rounds, with the server's own view of its event loop."""

    requests: int = 0
    http_requests: int = 0
    errors: int = 0
    elapsed: float = 0.0
    error_kinds: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    lag_ms: list[float] = field(default_factory=list)
    storage_seconds: float = 0.0

    def add(self, result: Result, stats: dict[str, Any] | None) -> None:
        self.requests += result.requests
        self.http_requests += result.http_requests
        self.errors += result.errors
        self.error_kinds.update(result.error_kinds)
        self.elapsed += result.elapsed
        self.latencies_ms.extend(result.latencies_ms)
        if stats is not None:
            self.lag_ms.extend(stats["loop_lag_ms"])
            self.storage_seconds += stats["rate_limit_storage"]["seconds"]

    @property
    def throughput(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    def latency(self, q: int) -> float:
        return percentile(self.latencies_ms, q)

    def lag(self, q: int) -> float:
        return percentile(self.lag_ms, q)

    @property
    def storage_us_per_request(self) -> float:
        return self.storage_seconds / self.requests * 1e6 if self.requests else 0.0


def measure(server: Server, plan: Plan, into: Measured) -> Result:
    """One round of load against `server`, its loop-lag window limited to the round.

    The server's own stats are taken with one worker only: with several, one answer
    would speak for one of them.
    """
    single = server.workers == 1
    if single:
        server.stats(reset=True)
    result = generate(plan)
    into.add(result, server.stats(reset=True) if single else None)
    return result


def add_load_options(
    parser: argparse.ArgumentParser, *, rounds: int, invoices: str = "invoices to read in turn"
) -> None:
    """The options of a closed-loop load from `bench.loadgen` over a set of invoices."""
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=rounds, help="alternating rounds per load")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--invoices", type=int, default=50, help=invoices)
    parser.add_argument("--max-requests", type=int, default=100_000, help="cap per round")


def alternate(rounds: int, loads: Sequence[Callable[[], object]]) -> None:
    """Each load once per round, in reverse order every other round: on a busy host the
    background drifts, and neither side should always go first."""
    for round_ in range(rounds):
        for load in loads if round_ % 2 == 0 else reversed(loads):
            load()


def append_results(section: str) -> None:
    with RESULTS.open("a") as results:
        results.write("\n" + section)


@contextmanager
def scratch_directory() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="ledgergate-bench-") as directory:
        yield Path(directory)


def markdown_table(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table, as `bench/RESULTS.md` holds them."""
    header = "| " + " | ".join(columns) + " |\n" + "| --- " * len(columns) + "|\n"
    return header + "".join("| " + " | ".join(row) + " |\n" for row in rows)


def rich_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> Table:
    """The same rows for the terminal: the first two columns name the row, the rest are figures."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="left" if column in columns[:2] else "right")
    for row in rows:
        table.add_row(*row)
    return table
