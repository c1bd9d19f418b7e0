"""Benchmark: what orchestration costs an invoice posting, against the ERP called directly.

Run with `make bench` (or `uv run python -m bench.posting [--duration S] [--rounds N]
[--workers W] [--concurrency C]`). In one run, on one throwaway database (PostgreSQL
on 127.0.0.1:5432, else SQLite), it starts on loopback:

- the ERP: the Business Central sandbox in its own process (`bench.serve erp-sandbox`,
  the app `ledgergate sandbox erp` serves), shared by both paths;
- the billing, CRM and support sandboxes, a process each, which the posting never
  calls: the gateway has every backend's URL and, as in production, loads no sandbox;
- whole stack: the gateway, uvicorn with `--workers` workers, its ERP over HTTP at
  that sandbox and its rate limits in Redis when reachable, answering, with the token
  of a client whose secret it generated (as production clients' are),
  `POST /v1/invoices/{id}/postings` with a fresh `Idempotency-Key` each, on invoices
  registered beforehand (one per posting): the edge, the idempotency key, the
  workflow's persisted run and steps, and the adapter's read-before-write requests;
- direct (the baseline): the request a point-to-point integration sends for the same
  document, its body made by the adapter's own wire mapping, straight to the sandbox:
  one `$batch` that creates the draft with its lines (a deep insert), posts it and reads
  it back, as the gateway's first attempt sends it;
- the peer (on PostgreSQL, `--peer`): the same posting as a DBOS Transact workflow
  (`bench/dbos_peer.py`, as many workers as the gateway), its ERP request (the
  gateway's one) and the invoice's read and update each a durable step in DBOS's
  tables on the same database, measured in the load with `--concurrency` in flight;
- the floor (on PostgreSQL with Redis, `--floor`): the gateway's I/O for one posting
  with the least Python (`bench/posting_floor.py`, a bare Starlette app, as many
  workers as the gateway): the same Redis round trips, the same 2 transactions (15
  statements on raw asyncpg where the gateway sends 4), the same ERP request, after the
  database has recorded it. What it costs is the least any Python gateway making this I/O for
  a posting costs on this host: a target it misses, no such gateway meets here; one it
  meets, only a gateway about as lean can.

The load generator process drives the paths in alternating rounds, one posting at a time
and `--concurrency` in flight; a posting is timed whole, from the first request to the
last answer. It prints postings per second, p50/p99 latency, errors and the ERP requests
per posting on each path, the ratios against the targets of issue 16 (p50 within 10x of
the direct call one at a time and 1.5x with the ERP 20 ms away, 250 postings/s in
flight, the peer's throughput at least; the floor's beside them), where a whole-stack
(and a floor) posting's time goes (per posting: the wall time, and the CPU of the
gateway's (the floor's) processes, the ERP sandbox's, PostgreSQL's and Redis's from
`/proc` and `INFO cpu`, the last two counted whole: run it on a quiet host; each
server's idle work, the loop-lag probe's among it, is in its share, and weighs more
where postings are fewer a second; in flight also the cores ÷ the parts' CPU per
posting, the most postings/s the host could serve them) and each server's peak RSS per
process after the load, checks that every posting the gateway, the peer and the floor
acknowledged is `posted` in its database, appends a dated section with the command to
`bench/RESULTS.md`, and exits 1 on any failed request or missing posting.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import secrets
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import httpx
from rich.console import Console
from sqlalchemy import func, select

from app.seed import demo_id
from bench.harness import (
    Database,
    Measured,
    Server,
    alternate,
    append_results,
    backend_sandboxes,
    backend_urls,
    host_line,
    invoice_body,
    issue_token,
    markdown_table,
    measure,
    memory_line,
    named_cpu_seconds,
    rate_limit_storage,
    redis_seconds,
    rich_table,
    running,
    scratch_directory,
    seed_invoices,
    throwaway_database,
)
from bench.loadgen import Plan, Step, Unit
from bench.posting_floor import TOKEN_ENV
from core.canonical.documents import InvoiceCreate, InvoiceStatus
from core.db import create_engine
from core.models.invoice import InvoiceRow
from process_apis.customers.service import default_erp_number
from sandboxes.business_central import API_ROOT
from sandboxes.demo_estate import DEMO_COMPANIES
from sandboxes.faults import FAULTS_PATH, FaultConfig
from system_apis.erp.adapters.business_central_wire import BcBatchRequest, BcRequest
from system_apis.erp.mapping import new_sales_invoice_operations
from system_apis.erp.schemas import ErpInvoiceLine, ErpSalesInvoiceCreate

ERP_API = API_ROOT.format(environment="sandbox")
COMPANY = DEMO_COMPANIES[0]  # the US company: demo customer 1's legal entity
CUSTOMER = demo_id("customer", 1)
WARMUP_POSTINGS = 20
TARGET_LATENCY_RATIO = 10.0  # one at a time, whole stack / direct, p50
TARGET_REMOTE_RATIO = 1.5  # the same with the ERP 20 ms away
TARGET_IN_FLIGHT = 250.0  # postings/s with `--concurrency` in flight


@dataclass(frozen=True)
class Scenario:
    name: str
    concurrency: int
    erp_latency_ms: float = 0.0
    with_peer: bool = False
    with_floor: bool = False


@dataclass
class Outcome:
    scenario: Scenario
    stack: Measured = field(default_factory=Measured)
    direct: Measured = field(default_factory=Measured)
    peer: Measured = field(default_factory=Measured)
    floor: Measured = field(default_factory=Measured)
    stack_erp_requests: int = 0
    peer_erp_requests: int = 0
    floor_erp_requests: int = 0
    stack_cpu: Counter[str] = field(default_factory=Counter)
    """CPU seconds each part of the server side spent in the whole stack's rounds."""
    floor_cpu: Counter[str] = field(default_factory=Counter)
    """The same in the floor's rounds."""

    @property
    def p50_ratio(self) -> float:
        return self.stack.latency(50) / self.direct.latency(50)

    @property
    def p99_ratio(self) -> float:
        return self.stack.latency(99) / self.direct.latency(99)

    @property
    def throughput_ratio(self) -> float:
        return self.stack.throughput / self.direct.throughput

    def erp_requests_per_posting(self, path: str) -> float:
        if path == "direct":
            return self.direct.http_requests / self.direct.requests if self.direct.requests else 0
        if path == "peer":
            return self.peer_erp_requests / self.peer.requests if self.peer.requests else 0
        if path == "floor":
            return self.floor_erp_requests / self.floor.requests if self.floor.requests else 0
        return self.stack_erp_requests / self.stack.requests if self.stack.requests else 0


@dataclass
class Run:
    outcomes: list[Outcome]
    problems: list[str]
    memory: list[str]


def _wire(body: BcRequest) -> str:
    """A request body as the adapter sends it."""
    return body.model_dump_json(by_alias=True, exclude_none=True)


def direct_posting(sandbox: Server, day: date) -> Unit:
    """Create with the lines, post and read in one `$batch`: the README tour's invoice,
    straight to the ERP."""
    invoice = InvoiceCreate.model_validate(invoice_body(day))
    document = ErpSalesInvoiceCreate(
        external_document_number=f"direct_{uuid.uuid4().hex[:26]}",
        customer_number=default_erp_number(CUSTOMER),
        currency=invoice.currency,
        posting_date=day,
        due_date=invoice.due_date,
        lines=tuple(
            ErpInvoiceLine(
                sequence=sequence,
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_amount,
                tax_code=line.tax_code,
            )
            for sequence, line in enumerate(invoice.lines, start=1)
        ),
    )
    operations = new_sales_invoice_operations(COMPANY.id, document, {})
    return Unit(
        steps=[
            Step(
                method="POST",
                url=f"{sandbox.base_url}{ERP_API}/$batch",
                body=BcBatchRequest(requests=operations).model_dump_json(
                    by_alias=True, exclude_none=True
                ),
                expect=[200],
            )
        ]
    )


def stack_posting(gateway: Server, invoice_id: str) -> Unit:
    return Unit(
        steps=[
            Step(
                method="POST",
                url=f"{gateway.base_url}/v1/invoices/{invoice_id}/postings",
                headers={"Idempotency-Key": str(uuid.uuid4())},
                body="{}",
                expect=[201],
            )
        ]
    )


def peer_posting(peer: Server, invoice_id: str, prefix: str = "peer") -> Unit:
    """A posting on the DBOS peer (or, `prefix` "floor", on the floor)."""
    return Unit(
        steps=[
            Step(
                method="POST",
                url=f"{peer.base_url}/{prefix}/invoices/{invoice_id}/postings",
                headers={"Idempotency-Key": str(uuid.uuid4())},
                body="{}",
                expect=[201],
            )
        ]
    )


def set_faults(sandbox: Server, config: FaultConfig) -> None:
    """The sandbox's fault injection; here only a fixed delay on every request."""
    response = httpx.post(sandbox.base_url + FAULTS_PATH, content=config.model_dump_json())
    response.raise_for_status()


def posted_count(database: Database) -> int:
    async def count() -> int:
        engine = create_engine(database.url)
        try:
            async with engine.connect() as connection:
                query = select(func.count()).where(InvoiceRow.status == InvoiceStatus.POSTED)
                return int((await connection.execute(query)).scalar_one())
        finally:
            await engine.dispose()

    return asyncio.run(count())


def run(
    gateway: Server,
    sandbox: Server,
    peer: Server | None,
    database: Database,
    args: argparse.Namespace,
    *,
    others: list[Server],
    storage_url: str,
    floor: Server | None = None,
) -> Run:
    """`others`: the billing, CRM and support sandboxes, which the posting never calls."""
    day = date.today()
    with_floor = floor is not None
    scenarios = [
        Scenario("one at a time", 1, with_floor=with_floor),
        Scenario(
            f"{args.concurrency} in flight",
            args.concurrency,
            with_peer=peer is not None,
            with_floor=with_floor,
        ),
    ]
    if args.erp_latency_ms:
        name = f"one at a time, ERP +{args.erp_latency_ms:g} ms"
        scenarios.append(Scenario(name, 1, args.erp_latency_ms))
    rounds_per_path = len(scenarios) * args.rounds + 1  # and the warm-up
    rounds_of_peer = args.rounds + 1 if peer is not None else 0
    rounds_of_floor = 2 * args.rounds + 1 if with_floor else 0
    count = (rounds_per_path + rounds_of_peer + rounds_of_floor) * args.per_round
    invoices: Iterator[str] = iter(seed_invoices(database, count, day))
    servers = [*others, sandbox, gateway, *(s for s in (peer, floor) if s is not None)]
    with running(servers):
        meters = cpu_meters(gateway, sandbox, database, storage_url)
        floor_meters = cpu_meters(floor, sandbox, database, storage_url, "floor") if floor else {}
        token = issue_token(gateway, "invoices:post", database.platform_client)
        headers = {"Authorization": f"Bearer {token}"}
        erp_headers = {"Authorization": "Bearer sandbox-token"}  # what the adapter sends
        floor_headers = {"Authorization": f"Bearer {floor.env[TOKEN_ENV]}"} if floor else {}

        def plan(server: Server, concurrency: int, count: int) -> Plan:
            if server is gateway:
                units = [stack_posting(gateway, i) for i in itertools.islice(invoices, count)]
            elif server is peer:
                units = [peer_posting(server, i) for i in itertools.islice(invoices, count)]
            elif server is floor:
                units = [
                    peer_posting(server, i, "floor") for i in itertools.islice(invoices, count)
                ]
            else:
                units = [direct_posting(sandbox, day) for _ in range(count)]
            return Plan(
                units=units,
                headers={sandbox: erp_headers, floor: floor_headers}.get(server, headers),
                concurrency=concurrency,
                duration=args.duration,
                max_requests=len(units),
                once=True,
            )

        # The gateway first: its first posting creates the customer the direct path uses.
        stack_warmup, direct_warmup, peer_warmup = Measured(), Measured(), Measured()
        floor_warmup = Measured()
        measure(gateway, plan(gateway, 4, WARMUP_POSTINGS), stack_warmup)
        measure(sandbox, plan(sandbox, 4, WARMUP_POSTINGS), direct_warmup)
        if peer is not None:
            measure(peer, plan(peer, 4, WARMUP_POSTINGS), peer_warmup)
        if floor is not None:
            measure(floor, plan(floor, 4, WARMUP_POSTINGS), floor_warmup)

        outcomes = []
        for scenario in scenarios:
            delay = scenario.erp_latency_ms / 1000
            set_faults(sandbox, FaultConfig(latency_rate=1 if delay else 0, latency_seconds=delay))
            outcome = Outcome(scenario)

            def stack(outcome: Outcome = outcome) -> None:
                sandbox.stats(reset=True)
                load = plan(gateway, outcome.scenario.concurrency, args.per_round)
                metered(meters, outcome.stack_cpu, lambda: measure(gateway, load, outcome.stack))
                outcome.stack_erp_requests += sandbox.stats(reset=True)["requests"]

            def direct(outcome: Outcome = outcome) -> None:
                load = plan(sandbox, outcome.scenario.concurrency, args.per_round)
                measure(sandbox, load, outcome.direct)

            def durable_peer(outcome: Outcome = outcome) -> None:
                assert peer is not None
                sandbox.stats(reset=True)
                load = plan(peer, outcome.scenario.concurrency, args.per_round)
                measure(peer, load, outcome.peer)
                outcome.peer_erp_requests += sandbox.stats(reset=True)["requests"]

            def least(outcome: Outcome = outcome) -> None:
                assert floor is not None
                sandbox.stats(reset=True)
                load = plan(floor, outcome.scenario.concurrency, args.per_round)
                metered(
                    floor_meters, outcome.floor_cpu, lambda: measure(floor, load, outcome.floor)
                )
                outcome.floor_erp_requests += sandbox.stats(reset=True)["requests"]

            paths = [stack, direct, *([durable_peer] if scenario.with_peer else [])]
            paths += [least] if scenario.with_floor else []
            alternate(args.rounds, paths)
            outcomes.append(outcome)
        set_faults(sandbox, FaultConfig())
        memory = [memory_line(server) for server in (gateway, sandbox, peer, floor) if server]

    problems = []
    stacks = [stack_warmup, *(o.stack for o in outcomes)]
    beside = [peer_warmup, floor_warmup, *(m for o in outcomes for m in (o.peer, o.floor))]
    kinds = sum((m.error_kinds for m in [direct_warmup, *stacks, *beside]), Counter[str]())
    kinds += sum((o.direct.error_kinds for o in outcomes), Counter[str]())
    if kinds:
        problems.append(f"{kinds.total()} postings failed: {dict(kinds)}")
    acknowledged = sum(m.requests - m.errors for m in [*stacks, *beside])
    posted = posted_count(database)
    if posted < acknowledged:
        problems.append(
            f"the gateway, peer and floor acknowledged {acknowledged} postings; {posted} are posted"
        )
    return Run(outcomes, problems, memory)


COLUMNS = (
    "load",
    "path",
    "postings",
    "errors",
    "postings/s",
    "p50 ms",
    "p99 ms",
    "ERP req/posting",
)
PATHS = (
    ("whole stack", "stack"),
    ("direct", "direct"),
    ("DBOS peer", "peer"),
    ("floor", "floor"),
)


def rows(outcomes: list[Outcome]) -> list[list[str]]:
    result = []
    for outcome in outcomes:
        for label, path in PATHS:
            m: Measured = getattr(outcome, path)
            if path == "peer" and not outcome.scenario.with_peer:
                continue
            if path == "floor" and not outcome.scenario.with_floor:
                continue
            result.append(
                [
                    outcome.scenario.name,
                    label,
                    str(m.requests),
                    str(m.errors),
                    f"{m.throughput:.1f}",
                    f"{m.latency(50):.2f}",
                    f"{m.latency(99):.2f}",
                    f"{outcome.erp_requests_per_posting(path):.1f}",
                ]
            )
    return result


def cpu_meters(
    server: Server, sandbox: Server, database: Database, storage_url: str, label: str = "gateway"
) -> dict[str, Callable[[], float]]:
    """What each part of a path's server side (`server` named `label`, the ERP sandbox, the
    database, Redis) has spent in CPU seconds so far."""
    meters = {label: server.cpu_seconds, "ERP sandbox": sandbox.cpu_seconds}
    if database.url.startswith("postgresql"):
        meters["PostgreSQL"] = lambda: named_cpu_seconds("postgres")
    if (redis := redis_seconds(storage_url)) is not None:
        meters["Redis"] = redis
    return meters


def metered(
    meters: dict[str, Callable[[], float]], into: Counter[str], run: Callable[[], object]
) -> None:
    """`run`, adding what each meter moved meanwhile to `into`."""
    before = {part: meter() for part, meter in meters.items()}
    run()
    into.update({part: meter() - before[part] for part, meter in meters.items()})


def cpu_lines(outcomes: list[Outcome]) -> list[str]:
    lines = []
    for outcome in outcomes:
        lines.append(cpu_line(outcome))
        if outcome.scenario.with_floor:
            lines.append(cpu_line(outcome, "floor"))
    return lines


def cpu_line(outcome: Outcome, path: str = "stack") -> str:
    """Where a whole-stack (or, `path` "floor", a floor) posting's time goes: each server
    part's CPU per posting beside the wall time per posting; what the parts leave of it is
    the load generator's and waiting (wake-ups, the disk). PostgreSQL and Redis are counted
    whole, other clients included."""
    measured: Measured = getattr(outcome, path)
    if not measured.requests:
        return f"{outcome.scenario.name}: no posting answered"
    cpu: Counter[str] = getattr(outcome, f"{path}_cpu")
    per_posting = {part: seconds * 1000 / measured.requests for part, seconds in cpu.items()}
    wall = measured.elapsed * 1000 / measured.requests
    parts = ", ".join(f"{part} {ms:.2f}" for part, ms in per_posting.items())
    label = "whole stack" if path == "stack" else path
    together = sum(per_posting.values())
    line = (
        f"{outcome.scenario.name}, {label}, per posting: wall {wall:.2f} ms "
        f"(elapsed ÷ postings); CPU ms {parts}, together {together:.2f}"
    )
    if outcome.scenario.concurrency > 1 and together > 0:
        cores = os.cpu_count() or 1
        line += (
            f"; CPU-bound ceiling {cores * 1000 / together:.0f} postings/s on {cores} cores "
            f"(the load generator's CPU not counted)"
        )
    return line


def ratio_lines(outcomes: list[Outcome]) -> list[str]:
    lines = []
    for o in outcomes:
        line = (
            f"{o.scenario.name}: whole-stack/direct p50 latency {o.p50_ratio:.2f}x, "
            f"p99 {o.p99_ratio:.2f}x, throughput {o.throughput_ratio:.2f}"
        )
        if o.scenario.concurrency > 1:
            met = o.stack.throughput >= TARGET_IN_FLIGHT
            line += (
                f"; {o.stack.throughput:.0f} postings/s (target ≥ {TARGET_IN_FLIGHT:g}: "
                f"{'met' if met else 'missed'})"
            )
            if o.scenario.with_peer and o.peer.throughput:
                ratio = o.stack.throughput / o.peer.throughput
                line += (
                    f"; gateway/DBOS peer throughput {ratio:.2f} (target ≥ 1: "
                    f"{'met' if ratio >= 1 else 'missed'}), p50 "
                    f"{o.stack.latency(50):.1f} vs {o.peer.latency(50):.1f} ms"
                )
        else:
            target = TARGET_REMOTE_RATIO if o.scenario.erp_latency_ms else TARGET_LATENCY_RATIO
            line += f" (target p50 ≤ {target:g}x: {'met' if o.p50_ratio <= target else 'missed'})"
        lines.append(line)
        if o.scenario.with_floor:
            lines.append(floor_line(o))
    return lines


def floor_line(o: Outcome) -> str:
    """The floor against the targets the whole stack is held to, the whole stack beside it."""
    ratio = o.floor.latency(50) / o.direct.latency(50)
    line = (
        f"{o.scenario.name}: floor/direct p50 latency {ratio:.2f}x "
        f"(whole stack {o.p50_ratio:.2f}x), floor p50 {o.floor.latency(50):.2f} ms"
    )
    if o.scenario.concurrency > 1:
        met = o.floor.throughput >= TARGET_IN_FLIGHT
        return line + (
            f"; floor {o.floor.throughput:.0f} postings/s (target ≥ {TARGET_IN_FLIGHT:g}: "
            f"{'met' if met else 'missed'}), whole stack {o.stack.throughput:.0f}, "
            f"floor/whole stack throughput {o.floor.throughput / o.stack.throughput:.2f}"
        )
    met = ratio <= TARGET_LATENCY_RATIO
    return line + f" (target p50 ≤ {TARGET_LATENCY_RATIO:g}x: {'met' if met else 'missed'})"


def section(
    command: str, database: Database, storage: str, args: argparse.Namespace, result: Run
) -> str:
    table = markdown_table(COLUMNS, rows(result.outcomes))
    return (
        f"## Invoice posting: whole stack vs direct to the ERP (`bench/posting.py`), "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
        f"Command: `{command}` (via `make bench`). Whole stack: "
        f"`POST /v1/invoices/{{id}}/postings` (fresh `Idempotency-Key` each, one registered "
        f"invoice per posting) on the gateway, "
        f"uvicorn with {args.workers} worker{'s' if args.workers > 1 else ''}, rate limits in "
        f"{storage}, its ERP the Business Central sandbox in its own process over HTTP. "
        f"Direct: the same document sent straight to that sandbox as the gateway's first "
        f"attempt sends it, one `$batch` of its deep insert, its post and its read (the "
        f"adapter's wire mapping). A posting is timed whole; load from "
        f"a separate `bench.loadgen` process, {args.rounds} alternating rounds of at most "
        f"{args.duration:g} s and {args.per_round} postings per path and load; in the last "
        f"load the sandbox delays every request by {args.erp_latency_ms:g} ms, as an ERP "
        f"across a network would. "
        + (
            f"DBOS peer: the same posting as a DBOS Transact workflow (`bench/dbos_peer.py`, "
            f"{args.workers} workers, every ERP request and the invoice's read and update a "
            f"durable step on the same database), in the in-flight load. "
            if args.peer
            else ""
        )
        + (
            f"Floor: the gateway's I/O for one posting with the least Python "
            f"(`bench/posting_floor.py`, {args.workers} workers, a bare Starlette app: the "
            f"same Redis round trips, the same 2 transactions on raw asyncpg, the same ERP "
            f"request on kept-alive connections), in the first "
            f"two loads. "
            if args.floor
            else ""
        )
        + f"ERP req/posting: requests the sandbox served per posting. "
        f"Database: {database.description}. "
        f"Host: {host_line()}.\n\n"
        + table
        + "\n"
        + "".join(f"- {line}\n" for line in ratio_lines(result.outcomes))
        + "".join(f"- {line}\n" for line in cpu_lines(result.outcomes))
        + "".join(f"- peak RSS after the load, {line}\n" for line in result.memory)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per round, at most")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per load")
    parser.add_argument("--concurrency", type=int, default=8, help="postings in flight")
    parser.add_argument("--per-round", type=int, default=400, help="postings per round, at most")
    parser.add_argument("--workers", type=int, default=2, help="the gateway's uvicorn workers")
    parser.add_argument(
        "--erp-latency-ms",
        type=float,
        default=20.0,
        help="delay per ERP request in the third load, as a remote ERP has (0: no third load)",
    )
    parser.add_argument(
        "--peer",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure the DBOS Transact peer in the in-flight load (PostgreSQL only)",
    )
    parser.add_argument(
        "--floor",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure the floor, one at a time and in flight (PostgreSQL and Redis only)",
    )
    args = parser.parse_args()
    command = " ".join(["python -m bench.posting", *sys.argv[1:]])
    console = Console(width=max(Console().width, 120))

    with (
        scratch_directory() as scratch,
        throwaway_database(scratch) as database,
        rate_limit_storage() as (storage_url, storage),
    ):
        sandboxes = backend_sandboxes(database, scratch)
        sandbox = sandboxes.pop("erp")
        gateway = Server(
            "gateway",
            database,
            scratch,
            workers=args.workers,
            LEDGERGATE_RATE_LIMIT_STORAGE_URL=storage_url,
            LEDGERGATE_ERP__URL=sandbox.base_url + ERP_API,
        )
        gateway.env.update(backend_urls(sandboxes))
        args.peer = args.peer and database.url.startswith("postgresql")
        peer = None
        if args.peer:
            peer = Server(
                "dbos-peer",
                database,
                scratch,
                workers=args.workers,
                LEDGERGATE_ERP__URL=sandbox.base_url + ERP_API,
            )
        args.floor = (
            args.floor and database.url.startswith("postgresql") and storage_url != "memory://"
        )
        floor = None
        if args.floor:
            floor = Server(
                "posting-floor",
                database,
                scratch,
                workers=args.workers,
                LEDGERGATE_RATE_LIMIT_STORAGE_URL=storage_url,
                LEDGERGATE_ERP__URL=sandbox.base_url + ERP_API,
            )
            floor.env[TOKEN_ENV] = secrets.token_urlsafe(32)
        result = run(
            gateway,
            sandbox,
            peer,
            database,
            args,
            others=list(sandboxes.values()),
            storage_url=storage_url,
            floor=floor,
        )

    for problem in result.problems:
        console.print(f"[red]{problem}[/]")
    if not result.outcomes:
        return 1
    title = f"Invoice posting: whole stack vs direct to the ERP ({database.description})"
    table = rich_table(title, COLUMNS, rows(result.outcomes))
    console.print(table)
    for line in ratio_lines(result.outcomes) + cpu_lines(result.outcomes) + result.memory:
        console.print(line)
    append_results(section(command, database, storage, args, result))
    console.print("section appended to bench/RESULTS.md")
    return 1 if result.problems else 0


if __name__ == "__main__":
    sys.exit(main())
