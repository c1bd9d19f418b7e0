"""Benchmark: whether the gateway's cost per item stays flat as the data grows.

Run with `make bench` (or `uv run python -m bench.scale [--small N] [--large N]
[--audit-large N]`). Needs PostgreSQL (rows are bulk-inserted with `generate_series`);
without it, it prints a note and exits 0. In one run, on one throwaway database:

- rows: `--small` (10k) and `--large` (100k) paid invoices of demo customer 1 (one
  line each, an applied payment and an eligible commission line for its partner),
  dated in the two months that ended last, the earlier (small) and the later (large),
  since a month is settled only once it has ended; and `--small` audit
  events, grown to `--audit-large` (1M) later;
- servers: the ERP sandbox in its own process holding every posted and paid invoice
  of the database as a posted document (`bench.serve erp-sandbox --mirror-posted`),
  and the gateway (uvicorn with `--workers` workers) calling it over HTTP;
- list: `GET /ops/v1/audit` one request at a time from the load generator process,
  the first page and a deep page (the cursor 90% of the way down), at the small and
  the large audit table (keyset pagination should keep both flat);
- settlement: `POST /v1/settlement-runs` for the earlier month (the small set's
  commission lines), then the later (the large set's: a later month never takes an
  unsettled earlier month's), each drawing up the statement and journaling it in the
  ERP; cost per invoice should stay flat;
- reconciliation: `GET /ops/v1/reconciliation` of each month against the ERP, which
  must come back clean with every invoice and payment counted on both sides.

It prints the figures with large/small ratios (for the settlement and reconciliation,
per invoice), appends a dated section with the command to `bench/RESULTS.md`, and exits
1 if a request failed or a result was wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
from rich.console import Console
from rich.table import Table

from app.seed import demo_id
from bench.harness import (
    OPERATOR_CLIENT,
    Database,
    Measured,
    Server,
    append_results,
    host_line,
    invoice_body,
    issue_token,
    markdown_table,
    measure,
    memory_line,
    running,
    scratch_directory,
    throwaway_database,
)
from bench.loadgen import Plan, gets
from bench.posting import ERP_API
from core.pagination import encode_cursor

CUSTOMER = demo_id("customer", 1)  # USD, the US legal entity, partner 1 (reseller-20)
LEGAL_ENTITY = demo_id("legal_entity", 1)
PARTNER = demo_id("partner", 1)
PRODUCT = demo_id("product", 1)
COMMISSION_BPS = 2000
SLOW_REQUEST_TIMEOUT = 600.0

# Ids are the row number, zero-padded: valid, ordered like the rows, and the same in every
# table, so a line, its payment and its commission line find their invoice by number.
PAID_INVOICES = """
INSERT INTO invoices (id, customer_id, legal_entity_id, currency, invoice_date, due_date,
    subtotal, tax_total, total, status, posting_date, erp_document_number, posted_at,
    version, created_at, updated_at)
SELECT 'inv_' || lpad(g::text, 26, '0'), $3, $4, $5, $6::date, $6::date + 30,
    $7, $8, $9, 'paid', $6::date, 'PS-INV' || g, now(), 1, now(), now()
FROM generate_series($1::bigint, $2::bigint) AS g
"""
INVOICE_LINES = """
INSERT INTO invoice_lines (id, invoice_id, sequence, description, quantity, unit_amount,
    amount, tax_code, tax_amount, product_id)
SELECT 'inl_' || lpad(g::text, 26, '0'), 'inv_' || lpad(g::text, 26, '0'), 1, $3, $4, $5,
    $6, $7, $8, $9
FROM generate_series($1::bigint, $2::bigint) AS g
"""
PAYMENTS = """
INSERT INTO payments (id, invoice_id, customer_id, legal_entity_id, currency, amount,
    paid_on, source, status, posting_date, applied_at, version, created_at, updated_at)
SELECT 'pay_' || lpad(g::text, 26, '0'), 'inv_' || lpad(g::text, 26, '0'), $3, $4, $5, $6,
    $7::date, 'direct', 'applied', $7::date, now(), 1, now(), now()
FROM generate_series($1::bigint, $2::bigint) AS g
"""
COMMISSION_LINES = """
INSERT INTO commission_lines (id, payment_id, invoice_id, invoice_line_id, customer_id,
    partner_id, legal_entity_id, currency, paid_on, product_id, product_tier, eligible,
    eligibility_reason, plan_code, rate_card_version, rate_effective_from, rate_bps,
    base_amount, commission_amount, created_at)
SELECT 'cml_' || lpad(g::text, 26, '0'), 'pay_' || lpad(g::text, 26, '0'),
    'inv_' || lpad(g::text, 26, '0'), 'inl_' || lpad(g::text, 26, '0'), $3, $4, $5, $6,
    $7::date, $8, 'pro', true, 'attributed', 'reseller-20', 1, $7::date, $9::int, $10::bigint,
    $10::bigint * $9::int / 10000, now()
FROM generate_series($1::bigint, $2::bigint) AS g
"""
AUDIT_EVENTS = """
INSERT INTO audit_events (id, occurred_at, client_id, action, object_id, outcome,
    status_code, source_ip)
SELECT 'aud_' || lpad(g::text, 26, '0'), now() - ($2 - g) * interval '1 millisecond',
    'demo-platform', 'POST /v1/invoices', 'inv_' || lpad(g::text, 26, '0'), 'succeeded',
    201, '127.0.0.1'
FROM generate_series($1::bigint, $2::bigint) AS g
"""


def month_start(day: date, offset: int) -> date:
    month = day.year * 12 + day.month - 1 + offset
    return date(month // 12, month % 12 + 1, 1)


def settled_months(today: date) -> tuple[date, date]:
    """The first days of the two months that ended last, oldest first (small, large)."""
    return month_start(today, -2), month_start(today, -1)


def _dsn(database: Database) -> str:
    return database.url.replace("postgresql+asyncpg://", "postgresql://")


def execute(database: Database, *statements: tuple[str, tuple[Any, ...]]) -> float:
    """Run the statements in one transaction, then `ANALYZE`; returns the seconds taken."""

    async def work() -> None:
        connection = await asyncpg.connect(_dsn(database))
        try:
            async with connection.transaction():
                for sql, params in statements:
                    await connection.execute(sql, *params)
            await connection.execute("ANALYZE")
        finally:
            await connection.close()

    started = time.perf_counter()
    asyncio.run(work())
    return time.perf_counter() - started


def paid_invoices(first: int, last: int, day: date) -> list[tuple[str, tuple[Any, ...]]]:
    """Invoices `first..last`: the README tour's, posted and paid on `day`, commission earned."""
    body = invoice_body(day)
    (line,) = body["lines"]
    rows = (first, last)
    return [
        (
            PAID_INVOICES,
            (*rows, CUSTOMER, LEGAL_ENTITY, body["currency"], day)
            + (body["subtotal"], body["tax_total"], body["total"]),
        ),
        (
            INVOICE_LINES,
            (*rows, line["description"], line["quantity"], line["unit_amount"])
            + (line["amount"], line["tax_code"], line["tax_amount"], PRODUCT),
        ),
        (PAYMENTS, (*rows, CUSTOMER, LEGAL_ENTITY, body["currency"], body["total"], day)),
        (
            COMMISSION_LINES,
            (*rows, CUSTOMER, PARTNER, LEGAL_ENTITY, body["currency"], day, PRODUCT)
            + (COMMISSION_BPS, line["amount"]),
        ),
    ]


@dataclass(frozen=True)
class Timed:
    seconds: float
    body: dict[str, Any]


def timed(call: Callable[[], httpx.Response]) -> Timed:
    started = time.perf_counter()
    response = call()
    seconds = time.perf_counter() - started
    if response.status_code not in (200, 201):
        raise RuntimeError(
            f"{response.request.url} answered {response.status_code}: {response.text[:500]}"
        )
    return Timed(seconds, response.json())


@dataclass
class Figures:
    """What the run measured; `None` where a step did not get that far."""

    list_p50_ms: dict[tuple[int, str], float]
    settlement_s: dict[int, float]
    reconciliation_s: dict[int, float]
    seeding_s: dict[str, float]
    memory: list[str]


def list_latency(
    gateway: Server,
    token: str,
    rows: int,
    args: argparse.Namespace,
    into: dict[tuple[int, str], float],
) -> list[str]:
    """p50 of the first and of a deep page of the audit list, one request at a time."""
    problems = []
    deep = encode_cursor(f"aud_{rows // 10:026d}")  # newest first: 90% of the way down
    for page, query in (("first page", ""), ("deep page", f"?cursor={deep}")):
        url = f"{gateway.base_url}/ops/v1/audit{query}"
        probe = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        items = probe.json().get("items", []) if probe.status_code == 200 else []
        if len(items) != 50:
            problems.append(f"{page} at {rows} rows: {probe.status_code}, {len(items)} items")
            continue
        measured = Measured()
        plan = Plan(
            units=gets([url]),
            headers={"Authorization": f"Bearer {token}"},
            concurrency=1,
            duration=args.duration,
            max_requests=100_000,
        )
        measure(gateway, plan, measured)
        if measured.errors:
            problems.append(f"{page} at {rows} rows: {dict(measured.error_kinds)}")
        into[(rows, page)] = measured.latency(50)
    return problems


def settle(gateway: Server, token: str, period: date, invoices: int) -> tuple[float, list[str]]:
    result = timed(
        lambda: httpx.post(
            f"{gateway.base_url}/v1/settlement-runs",
            json={"period": f"{period:%Y-%m}"},
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
            timeout=SLOW_REQUEST_TIMEOUT,
        )
    )
    lines = sum(s["line_count"] or 0 for s in result.body["settlements"])
    statuses = {s["status"] for s in result.body["settlements"]}
    problems = []
    if lines != invoices or statuses != {"posted"}:
        problems.append(f"settlement {period:%Y-%m}: {lines} lines, statuses {sorted(statuses)}")
    return result.seconds, problems


def reconcile(gateway: Server, token: str, period: date, invoices: int) -> tuple[float, list[str]]:
    result = timed(
        lambda: httpx.get(
            f"{gateway.base_url}/ops/v1/reconciliation",
            params={"period": f"{period:%Y-%m}", "legal_entity": LEGAL_ENTITY},
            headers={"Authorization": f"Bearer {token}"},
            timeout=SLOW_REQUEST_TIMEOUT,
        )
    )
    counts = {
        t["document_type"]: (t["gateway_count"], t["erp_count"]) for t in result.body["totals"]
    }
    problems = []
    counted = [counts.get(kind) for kind in ("invoice", "payment")]
    if not result.body["clean"] or counted != [(invoices, invoices)] * 2:
        problems.append(f"reconciliation {period:%Y-%m}: clean {result.body['clean']}, {counts}")
    return result.seconds, problems


def run(database: Database, scratch: Any, args: argparse.Namespace) -> tuple[Figures, list[str]]:
    small_month, large_month = settled_months(date.today())
    figures = Figures({}, {}, {}, {}, [])
    small, large = args.small, args.large
    figures.seeding_s["paid invoices"] = execute(
        database,
        *paid_invoices(1, small, small_month),
        *paid_invoices(small + 1, small + large, large_month + timedelta(days=14)),
        (AUDIT_EVENTS, (1, small)),
    )
    sandbox = Server("erp-sandbox", database, scratch, args=("--mirror-posted",))
    gateway = Server(
        "gateway",
        database,
        scratch,
        workers=args.workers,
        LEDGERGATE_ERP__URL=sandbox.base_url + ERP_API,
    )
    problems: list[str] = []
    with running([sandbox, gateway]):
        token = issue_token(
            gateway, "audit:read ops:read settlements:write", client=OPERATOR_CLIENT
        )
        problems += list_latency(gateway, token, small, args, figures.list_p50_ms)
        figures.seeding_s["audit events"] = execute(
            database, (AUDIT_EVENTS, (small + 1, args.audit_large))
        )
        problems += list_latency(gateway, token, args.audit_large, args, figures.list_p50_ms)
        for month, invoices in ((small_month, small), (large_month, large)):
            seconds, found = settle(gateway, token, month, invoices)
            figures.settlement_s[invoices] = seconds
            problems += found
        for month, invoices in ((small_month, small), (large_month, large)):
            seconds, found = reconcile(gateway, token, month, invoices)
            figures.reconciliation_s[invoices] = seconds
            problems += found
        figures.memory = [memory_line(gateway), memory_line(sandbox)]
    return figures, problems


def rows(figures: Figures, args: argparse.Namespace) -> list[list[str]]:
    small, large, audit = args.small, args.large, args.audit_large
    result = []
    for page in ("first page", "deep page"):
        if (small, page) in figures.list_p50_ms and (audit, page) in figures.list_p50_ms:
            low, high = figures.list_p50_ms[(small, page)], figures.list_p50_ms[(audit, page)]
            result.append(
                [f"`GET /ops/v1/audit`, {page}: p50 ms", f"{small:,} rows", f"{low:.2f}"]
                + [f"{audit:,} rows", f"{high:.2f}", f"{high / low:.2f}"]
            )
    for name, seconds in (
        ("`POST /v1/settlement-runs`", figures.settlement_s),
        ("`GET /ops/v1/reconciliation`", figures.reconciliation_s),
    ):
        if small in seconds and large in seconds:
            low, high = seconds[small] / small * 1000, seconds[large] / large * 1000
            result.append(
                [f"{name}: ms per invoice", f"{small:,} invoices ({seconds[small]:.1f} s)"]
                + [f"{low:.3f}", f"{large:,} invoices ({seconds[large]:.1f} s)", f"{high:.3f}"]
                + [f"{high / low:.2f}"]
            )
    return result


COLUMNS = ("measure", "small", "figure", "large", "figure", "large/small")


def section(command: str, args: argparse.Namespace, figures: Figures) -> str:
    seeding = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in figures.seeding_s.items())
    table = markdown_table(COLUMNS, rows(figures, args))
    return (
        f"## Scale: lists, settlement runs and reconciliation (`bench/scale.py`), "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
        f"Command: `{command}` (via `make bench`). Rows bulk-inserted with `generate_series` "
        f"({seeding}); the gateway, uvicorn with {args.workers} worker"
        f"{'s' if args.workers > 1 else ''}, calls the ERP sandbox in its own process, which "
        f"holds every posted invoice. List: one request at a time for {args.duration:g} s from "
        f"a separate `bench.loadgen` process, 50 items a page, the deep page's cursor 90% of the "
        f"way down. Settlement and reconciliation: one request each, timed by the client; a "
        f"flat cost per invoice gives a large/small ratio near 1. Database: PostgreSQL "
        f"(throwaway database, 127.0.0.1:5432). Host: {host_line()}.\n\n"
        + table
        + "\n"
        + "".join(f"- peak RSS at the end, {line}\n" for line in figures.memory)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--small", type=int, default=10_000, help="invoices (and audit rows)")
    parser.add_argument("--large", type=int, default=100_000, help="invoices in the large set")
    parser.add_argument("--audit-large", type=int, default=1_000_000, help="audit rows, large")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per list load")
    parser.add_argument("--workers", type=int, default=2, help="the gateway's uvicorn workers")
    args = parser.parse_args()
    if not 0 < args.small < args.large or args.audit_large <= args.small:
        parser.error("need 0 < --small < --large and --small < --audit-large")
    command = " ".join(["python -m bench.scale", *sys.argv[1:]])
    console = Console(width=max(Console().width, 120))

    with scratch_directory() as scratch, throwaway_database(scratch) as database:
        if not database.url.startswith("postgresql"):
            console.print("[yellow]note: the scale benchmark needs PostgreSQL; skipped[/]")
            return 0
        figures, problems = run(database, scratch, args)

    for problem in problems:
        console.print(f"[red]{problem}[/]")
    table = Table(title="Scale: cost as the data grows (PostgreSQL)")
    for column in COLUMNS:
        table.add_column(column, justify="left" if column == "measure" else "right")
    for row in rows(figures, args):
        table.add_row(*row)
    console.print(table)
    for line in figures.memory:
        console.print(line)
    append_results(section(command, args, figures))
    console.print("section appended to bench/RESULTS.md")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
