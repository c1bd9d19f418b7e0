"""Overload: twice the sustainable rate of governed reads against one gateway worker.

First the sustainable rate is measured: a closed loop of `LIMIT / 2` clients reading
an invoice, which the worker serves without refusing any. Then requests are sent on a
fixed schedule at twice that rate, whether earlier ones were answered or not, as
independent clients would. The worker admits `LEDGERGATE_MAX_IN_FLIGHT` (`LIMIT`)
requests at once and must refuse the rest at once with a 503 `overloaded` problem (or
a 429): no request may go unanswered, the admitted ones keep a latency within a few
times the sustainable one (Little's law: twice the requests in flight, about twice
the latency), refusals come quicker than service, and the worker keeps serving at
least half its sustainable rate. The same load is then sent to the same worker with
the limit off, to show what the limit prevents: a queue that grows for as long as
the overload lasts.
Latencies count from when a request was due, so a stalled generator cannot hide a
queue. The load comes from a lean client (`wire.py`) so that the generator, on the
same two cores, is not the bottleneck.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from chaos.estate import Estate, estate
from chaos.load import PROBLEM_MEDIA_TYPE, client, register_invoices
from chaos.report import Outcome
from chaos.wire import Reply, WireClient

CHECK = "overload"
LIMIT = 32
WARM_SECONDS = 2.0
MEASURE_SECONDS = 4.0
TIMEOUT_SECONDS = 10.0
SHED = frozenset(
    {"https://ledgergate.dev/problems/overloaded", "https://ledgergate.dev/problems/rate-limited"}
)
LATENCY_FACTOR = 5.0  # admitted p99 at most this many times the sustainable p99
# A refusal shares the worker's event loop with the admitted requests, so when the CPU
# is the bottleneck its tail waits too: it must still come well before a client gives up.
REFUSAL_BOUND_SECONDS = TIMEOUT_SECONDS / 4
MIN_GOODPUT = 0.5
MIN_OFFERED = 1.8


def run(seconds: float, logs: Path) -> Outcome:
    with estate("overload", logs, LEDGERGATE_MAX_IN_FLIGHT=str(LIMIT)) as place:
        return asyncio.run(_overload(place, seconds))


async def closed_loop(wire: WireClient, path: str, clients: int, seconds: float) -> list[Reply]:
    replies: list[Reply] = []
    deadline = time.perf_counter() + seconds

    async def one_client() -> None:
        while time.perf_counter() < deadline:
            replies.append(await wire.get(path))

    await asyncio.gather(*(one_client() for _ in range(clients)))
    return replies


async def open_loop(
    wire: WireClient, path: str, rate: float, seconds: float
) -> tuple[list[Reply], float, float]:
    """Send at `rate` per second on a fixed schedule; the replies, rate offered, time taken."""
    total = int(rate * seconds)
    tasks: list[asyncio.Task[Reply]] = []
    started = time.perf_counter()
    for i in range(total):
        due = started + i / rate
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(wire.get(path, since=due)))
    offered = total / (time.perf_counter() - started)
    replies = list(await asyncio.gather(*tasks))
    return replies, offered, time.perf_counter() - started


def p99(replies: list[Reply]) -> float:
    return percentile(replies, 99)


def percentile(replies: list[Reply], q: int) -> float:
    samples = [r.seconds for r in replies]
    if len(samples) < 2:
        return samples[0] if samples else 0.0
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


def ms(replies: list[Reply]) -> str:
    """`p50 12 / p99 40 ms`"""
    return f"p50 {percentile(replies, 50) * 1000:.0f} / p99 {p99(replies) * 1000:.0f} ms"


def label(reply: Reply) -> str:
    if reply.status == 0:
        return "no answer"
    if reply.headers.get("content-type", "").startswith(PROBLEM_MEDIA_TYPE):
        return f"{reply.status} {json.loads(reply.body)['type'].rsplit('/', 1)[-1]}"
    return str(reply.status)


def is_shed(reply: Reply) -> bool:
    if not reply.headers.get("content-type", "").startswith(PROBLEM_MEDIA_TYPE):
        return False
    return json.loads(reply.body)["type"] in SHED and "retry-after" in reply.headers


async def _overload(place: Estate, seconds: float) -> Outcome:
    base = place.start_gateway()
    headers = place.headers()
    async with client(base, headers) as http:
        (invoice_id,) = await register_invoices(http, 1)
    path = f"/v1/invoices/{invoice_id}"
    async with _wire(place, headers) as wire:
        await closed_loop(wire, path, LIMIT // 2, WARM_SECONDS)
        measured = await closed_loop(wire, path, LIMIT // 2, MEASURE_SECONDS)
        served = [r for r in measured if r.status == 200]
        sustainable, base_p99 = len(served) / MEASURE_SECONDS, p99(served)
        replies, offered, elapsed = await open_loop(wire, path, 2 * sustainable, seconds)

    # The same load against the same worker without the limit: what the limit prevents.
    place.stop_gateway()
    place.env["LEDGERGATE_MAX_IN_FLIGHT"] = "0"
    place.start_gateway()
    async with _wire(place, headers) as wire:
        await closed_loop(wire, path, LIMIT // 2, WARM_SECONDS)
        unlimited, _, _ = await open_loop(wire, path, 2 * sustainable, seconds)

    admitted = [r for r in replies if r.status == 200]
    shed = [r for r in replies if is_shed(r)]
    other = [r for r in replies if r.status != 200 and not is_shed(r)]
    goodput = len(admitted) / elapsed
    summary = (
        f"sustainable {sustainable:.0f}/s ({ms(served)}, {LIMIT // 2} in flight); "
        f"offered {offered:.0f}/s for {seconds:.0f} s: {counts(replies)}; "
        f"served {goodput:.0f}/s ({goodput / sustainable:.0%} of sustainable), "
        f"admitted {ms(admitted)}, refusals {ms(shed)} (limit {LIMIT} in flight); "
        f"without the limit: {counts(unlimited)}, {ms(unlimited)}"
    )
    details = []
    if offered < MIN_OFFERED * sustainable:
        details.append(f"the load generator offered only {offered / sustainable:.1f}x the rate")
    if not shed:
        details.append("nothing was shed: the rate was sustainable after all")
    if other:
        details.append(f"neither served nor shed cleanly: {len(other)}")
    if p99(admitted) > LATENCY_FACTOR * base_p99:
        details.append(f"admitted p99 over {LATENCY_FACTOR:.0f}x the sustainable p99")
    if shed and percentile(shed, 50) > percentile(served, 50):
        details.append("refusals p50 over the sustainable p50: refusing costs more than serving")
    if shed and p99(shed) > REFUSAL_BOUND_SECONDS:
        details.append(f"refusals p99 over {REFUSAL_BOUND_SECONDS:.1f} s: not quick")
    if goodput < MIN_GOODPUT * sustainable:
        details.append(f"served under {MIN_GOODPUT:.0%} of the sustainable rate")
    return Outcome(CHECK, not details, summary, details)


def counts(replies: list[Reply]) -> str:
    return ", ".join(f"{k}: {n}" for k, n in Counter(map(label, replies)).most_common())


@asynccontextmanager
async def _wire(place: Estate, headers: dict[str, str]) -> AsyncIterator[WireClient]:
    wire = WireClient(
        "127.0.0.1", int(place.env["LEDGERGATE_PORT"]), headers, timeout=TIMEOUT_SECONDS
    )
    try:
        yield wire
    finally:
        await wire.aclose()
