"""Benchmark: an open circuit answers in under a millisecond, without touching the network.

Run with `make bench` (or `uv run python -m bench.circuit [--calls N]`). In one run it
times `ResilientClient.request` against the Business Central sandbox in process with
the circuit closed (the whole HTTP exchange through the ASGI transport), then trips
the circuit with the sandbox's fault injection (every request a 503) and times the
same call while the circuit is open, counting the requests that reach the
transport. It prints p50/p99 of both and their ratio, appends a dated row with the
command to `bench/RESULTS.md`, and exits 1 when the promise does not hold (open p99
at or over 1 ms, or any request sent while open).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from core.settings import ErpSettings
from sandboxes.business_central import create_app
from sandboxes.faults import FaultConfig
from system_apis.circuit import BackendCircuitOpen, CircuitState
from system_apis.errors import BackendTransientError
from system_apis.http import InProcessTransport, ResilientClient

RESULTS = Path(__file__).with_name("RESULTS.md")
BASE_URL = "http://erp.sandbox/v2.0/sandbox/api/v1.0"
PATH = "companies"
WARMUP = 100
OPEN_BUDGET_MS = 1.0
HEADER = (
    "| date (UTC) | command | closed p50 ms | closed p99 ms | open p50 ms | open p99 ms "
    "| p50 ratio | requests while open | host |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
)


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts the requests that reach the network layer."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass(frozen=True)
class Timing:
    p50_ms: float
    p99_ms: float


def timing(samples: list[float]) -> Timing:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return Timing(p50_ms=cuts[49] * 1000, p99_ms=cuts[98] * 1000)


async def timed_calls(client: ResilientClient, calls: int, *, open_circuit: bool) -> list[float]:
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        if open_circuit:
            try:
                await client.request("GET", PATH, operation="list_companies")
            except BackendCircuitOpen:
                pass
            else:
                raise RuntimeError("the circuit let a call through while open")
        else:
            await client.request("GET", PATH, operation="list_companies")
        samples.append(time.perf_counter() - started)
    return samples


async def run(calls: int) -> tuple[Timing, Timing, int]:
    settings = ErpSettings(
        retry_attempts=1, circuit_failure_threshold=5, circuit_reset_seconds=3600
    )
    app = create_app()
    transport = CountingTransport(InProcessTransport(app=app))
    client = ResilientClient(
        backend="erp-bench",
        base_url=BASE_URL,
        settings=settings,
        headers={"Authorization": "Bearer sandbox-token"},
        transport=transport,
    )
    try:
        await timed_calls(client, WARMUP, open_circuit=False)
        closed = timing(await timed_calls(client, calls, open_circuit=False))

        app.state.faults.configure(FaultConfig(error_rate=1, error_statuses=(503,)))
        for _ in range(settings.circuit_failure_threshold):
            try:
                await client.request("GET", PATH, operation="list_companies")
            except BackendTransientError:
                continue
        if client.circuit.state is not CircuitState.OPEN:
            raise RuntimeError("the circuit did not open")
        await timed_calls(client, WARMUP, open_circuit=True)
        before = transport.requests
        opened = timing(await timed_calls(client, calls, open_circuit=True))
        return closed, opened, transport.requests - before
    finally:
        await client.aclose()


def record(command: str, closed: Timing, opened: Timing, leaked: int) -> None:
    host = (
        f"{os.cpu_count()} CPU, load {os.getloadavg()[0]:.1f}, Python {platform.python_version()}"
    )
    row = (
        f"| {datetime.now(UTC):%Y-%m-%d %H:%M} | `{command}` | {closed.p50_ms:.3f} "
        f"| {closed.p99_ms:.3f} | {opened.p50_ms:.4f} | {opened.p99_ms:.4f} "
        f"| {closed.p50_ms / opened.p50_ms:.0f}x | {leaked} | {host} |\n"
    )
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Benchmark results\n\nRows are appended by the benchmarks themselves.\n\n"
            "## Circuit breaker (`bench/circuit.py`)\n\n"
            "An open circuit against a closed one calling the in-process ERP sandbox.\n\n" + HEADER
        )
    with RESULTS.open("a") as results:
        results.write(row)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per scenario")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    command = " ".join(["python -m bench.circuit", *sys.argv[1:]])

    closed, opened, leaked = asyncio.run(run(args.calls))

    table = Table(title=f"Circuit breaker, {args.calls} calls per scenario")
    for column in ("circuit", "p50 ms", "p99 ms", "requests sent"):
        table.add_column(column, justify="right" if column != "circuit" else "left")
    table.add_row("closed (in-process sandbox)", f"{closed.p50_ms:.3f}", f"{closed.p99_ms:.3f}", "")
    table.add_row("open", f"{opened.p50_ms:.4f}", f"{opened.p99_ms:.4f}", str(leaked))
    console = Console()
    console.print(table)
    console.print(
        f"open is {closed.p50_ms / opened.p50_ms:.0f}x faster at p50, "
        f"{closed.p99_ms / opened.p99_ms:.0f}x at p99"
    )
    record(command, closed, opened, leaked)
    held = opened.p99_ms < OPEN_BUDGET_MS and leaked == 0
    console.print(
        f"[{'green' if held else 'red'}]open p99 < {OPEN_BUDGET_MS} ms without the network: "
        f"{'yes' if held else 'NO'}[/]; row appended to {RESULTS.name}"
    )
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
