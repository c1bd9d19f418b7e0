"""Benchmark: the partner portal's last page of 100,000 commission lines against its first.

Run with `make bench` (or `uv run python -m bench.partner_paging [--lines N] [--page-size N]`).
On a throwaway database (PostgreSQL on 127.0.0.1:5432, else SQLite) it starts the
gateway (`bench.serve gateway`, a uvicorn process on loopback), posts and pays one
Pro invoice for Acme through the governed process API (a real payment and commission
line with its lineage), then bulk-inserts `--lines` more payments and commission lines
for Northwind, copies of those, every one on one posted settlement statement,
interleaved with `--other-lines` unsettled lines of Fabrikam (so a page must find
Northwind's lines among another partner's, as in a shared database).

With Northwind's partner-bound token it follows the cursors of
`GET /partner/v1/commission-lines` from the first page to the last (checking that
every line comes exactly once), then measures, from a separate load-generator process
(`bench.loadgen`, one request at a time, alternating rounds), the first page and
three deep ones: the middle page, the page at 90 % and the last full page. Each
answer carries the page's lines with their whole lineage. It prints p50/p99 per
page and each deep page's p50 over the first page's, appends a dated section to
`bench/RESULTS.md`, and exits 1 if a deep page is more than `--max-ratio` times
slower than the first, or any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import insert, select, text

from app.seed import demo_id
from bench.harness import (
    Database,
    Measured,
    Server,
    alternate,
    append_results,
    host_line,
    invoice_body,
    issue_token,
    measure,
    running,
    scratch_directory,
    throwaway_database,
)
from bench.loadgen import Plan, gets
from core.db import create_engine
from core.ids import new_id
from core.models.commission_line import CommissionLineRow
from core.models.payment import PaymentRow
from core.models.settlement import SettlementRow

NORTHWIND, FABRIKAM = demo_id("partner", 1), demo_id("partner", 2)
PARTNER_CLIENT = ("demo-partner", "demo-partner-secret")
PATH = "/partner/v1/commission-lines"
CHUNK = 5_000


def paid_invoice(server: Server) -> str:
    """An invoice posted and paid through the governed API; the payment's id."""
    token = issue_token(server, "invoices:write invoices:post payments:write")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
        invoice = client.post(
            "/v1/invoices", json=invoice_body(date.today(), product_id=demo_id("product", 1))
        )
        invoice.raise_for_status()
        invoice_id = invoice.json()["id"]
        client.post(
            f"/v1/invoices/{invoice_id}/postings", json={}, headers={"Idempotency-Key": invoice_id}
        ).raise_for_status()
        payment = client.post(
            f"/v1/invoices/{invoice_id}/payments",
            json={"amount": 16005, "currency": "USD"},
            headers={"Idempotency-Key": f"pay-{invoice_id}"},
        )
        payment.raise_for_status()
        body = payment.json()
        if not body["commission_lines"]:
            raise RuntimeError("the payment earned Northwind no commission line to copy")
        payment_id: str = body["id"]
        return payment_id


async def bulk_insert(url: str, payment_id: str, count: int, others: int) -> None:
    """`count` copies of the payment and its commission line, all on one posted statement,
    and `others` unsettled copies for another partner, their ids interleaved."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            payment = dict(
                (
                    await connection.execute(
                        select(PaymentRow.__table__).where(PaymentRow.id == payment_id)
                    )
                )
                .mappings()
                .one()
            )
            line = dict(
                (
                    await connection.execute(
                        select(CommissionLineRow.__table__).where(
                            CommissionLineRow.payment_id == payment_id
                        )
                    )
                )
                .mappings()
                .one()
            )
            start = date.today().replace(day=1)
            settlement_id = new_id("settlement")
            now = datetime.now(UTC)
            await connection.execute(
                insert(SettlementRow).values(
                    id=settlement_id,
                    partner_id=NORTHWIND,
                    legal_entity_id=line["legal_entity_id"],
                    period_start=start,
                    period_end=(start + timedelta(days=32)).replace(day=1) - timedelta(days=1),
                    currency=line["currency"],
                    total_commission=line["commission_amount"] * count,
                    line_count=count,
                    status="posted",
                    journal_document_number="STL-BENCH",
                    posting_date=date.today(),
                    posted_at=now,
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
            )
            owners = [(NORTHWIND, settlement_id)] * count + [(FABRIKAM, None)] * others
            random.shuffle(owners)
            for offset in range(0, len(owners), CHUNK):
                payments, lines = [], []
                for partner, settlement in owners[offset : offset + CHUNK]:
                    new_payment = new_id("payment")
                    payments.append({**payment, "id": new_payment})
                    lines.append(
                        {
                            **line,
                            "id": new_id("commission_line"),
                            "payment_id": new_payment,
                            "partner_id": partner,
                            "settlement_id": settlement,
                        }
                    )
                await connection.execute(insert(PaymentRow), payments)
                await connection.execute(insert(CommissionLineRow), lines)
        async with engine.connect() as connection:  # fresh statistics, as autovacuum would
            await connection.execute(text("ANALYZE"))
            await connection.commit()
    finally:
        await engine.dispose()


def walk(server: Server, token: str, page_size: int) -> tuple[list[str], int]:
    """Every page's cursor, first page to last, and how many distinct lines they held."""
    cursors: list[str] = []
    seen: set[str] = set()
    total = 0
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": page_size}
            if cursor is not None:
                params["cursor"] = cursor
            response = client.get(PATH, params=params)
            response.raise_for_status()
            page = response.json()
            ids = [item["id"] for item in page["items"]]
            total += len(ids)
            seen.update(ids)
            cursor = page["next_cursor"]
            if cursor is None:
                break
            cursors.append(cursor)
    if len(seen) != total:
        raise RuntimeError(f"{total - len(seen)} lines came twice while paging")
    return cursors, total


@dataclass
class Target:
    name: str
    page: int  # 1-based page number
    cursor: str | None
    measured: Measured


def targets(cursors: list[str]) -> list[Target]:
    """The first page, the middle one, the one at 90 % and the last full page."""
    pages = len(cursors) + 1
    picks = [
        ("first", 1),
        ("middle", pages // 2),
        ("90 %", pages * 9 // 10),
        ("last full", pages - 1),
    ]
    return [
        Target(name, page, cursors[page - 2] if page > 1 else None, Measured())
        for name, page in picks
    ]


def url(server: Server, target: Target, page_size: int) -> str:
    query = f"limit={page_size}" + (f"&cursor={target.cursor}" if target.cursor else "")
    return f"{server.base_url}{PATH}?{query}"


def ratio(target: Target, first: Target) -> float:
    return target.measured.latency(50) / first.measured.latency(50)


def table(chosen: list[Target], title: str) -> Table:
    result = Table(title=title)
    for column in ("page", "number", "requests", "errors", "p50 ms", "p99 ms", "p50 / first"):
        result.add_column(column, justify="left" if column == "page" else "right")
    for target in chosen:
        m = target.measured
        result.add_row(
            target.name,
            str(target.page),
            str(m.requests),
            str(m.errors),
            f"{m.latency(50):.2f}",
            f"{m.latency(99):.2f}",
            f"{ratio(target, chosen[0]):.2f}",
        )
    return result


def section(
    command: str,
    database: Database,
    args: argparse.Namespace,
    chosen: list[Target],
    pages: int,
    seconds: dict[str, float],
) -> str:
    rows = "".join(
        f"| {t.name} | {t.page} | {t.measured.requests} | {t.measured.errors} "
        f"| {t.measured.latency(50):.2f} | {t.measured.latency(99):.2f} "
        f"| {ratio(t, chosen[0]):.2f} |\n"
        for t in chosen
    )
    return (
        f"## Partner paging (`bench/partner_paging.py`), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
        f"Command: `{command}` (via `make bench`). `GET {PATH}` through the governed gateway "
        f"(uvicorn process on loopback) with a partner-bound token, {args.page_size} lines "
        f"per page each with its lineage, over {args.lines:,} settled commission lines of one "
        f"partner among {args.other_lines:,} of another ({pages} pages; bulk insert "
        f"{seconds['insert']:.1f} s, walking every cursor "
        f"{seconds['walk']:.1f} s). Load from a separate `bench.loadgen` process, one request "
        f"at a time, {args.rounds} alternating rounds of {args.duration:g} s per page. "
        f"Database: {database.description}. Host: {host_line()}.\n\n"
        "| page | number | requests | errors | p50 ms | p99 ms | p50 / first |\n"
        "| --- | --- | --- | --- | --- | --- | --- |\n"
        + rows
        + f"\n- last/first p50 ratio: {ratio(chosen[-1], chosen[0]):.2f} "
        f"(limit {args.max_ratio:g})\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lines", type=int, default=100_000, help="commission lines to insert")
    parser.add_argument(
        "--other-lines", type=int, default=100_000, help="another partner's lines, interleaved"
    )
    parser.add_argument("--page-size", type=int, default=100, help="lines per page (max 200)")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per page per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--max-ratio", type=float, default=2.0, help="deep/first p50 limit")
    args = parser.parse_args()
    command = " ".join(["python -m bench.partner_paging", *sys.argv[1:]])
    console = Console(width=max(Console().width, 100))
    problems: list[str] = []
    seconds: dict[str, float] = {}

    with scratch_directory() as scratch, throwaway_database(scratch) as database:
        gateway = Server("gateway", database, scratch)
        with running([gateway]):
            payment_id = paid_invoice(gateway)
            started = time.perf_counter()
            asyncio.run(bulk_insert(database.url, payment_id, args.lines, args.other_lines))
            seconds["insert"] = time.perf_counter() - started
            token = issue_token(gateway, "partner:read", PARTNER_CLIENT)
            started = time.perf_counter()
            cursors, total = walk(gateway, token, args.page_size)
            seconds["walk"] = time.perf_counter() - started
            if total != args.lines + 1:
                problems.append(f"paging found {total} lines, not {args.lines + 1}")
            chosen = targets(cursors)
            headers = {"Authorization": f"Bearer {token}"}

            def plan(target: Target, duration: float) -> Plan:
                return Plan(
                    units=gets([url(gateway, target, args.page_size)]),
                    headers=headers,
                    concurrency=1,
                    duration=duration,
                    max_requests=100_000,
                )

            for target in chosen:  # warm-up
                measure(gateway, plan(target, 0.5), Measured())
            alternate(
                args.rounds,
                [
                    partial(measure, gateway, plan(target, args.duration), target.measured)
                    for target in chosen
                ],
            )

    errors = sum(t.measured.errors for t in chosen)
    if errors:
        kinds = sum((t.measured.error_kinds for t in chosen), Counter[str]())
        problems.append(f"{errors} requests failed: {dict(kinds)}")
    title = f"GET {PATH}: {args.lines:,} lines, {args.page_size} per page ({database.description})"
    console.print(table(chosen, title))
    worst = max(chosen[1:], key=lambda t: ratio(t, chosen[0]))
    console.print(f"last/first p50 ratio: {ratio(chosen[-1], chosen[0]):.2f}")
    if ratio(worst, chosen[0]) > args.max_ratio:
        problems.append(
            f"the {worst.name} page is {ratio(worst, chosen[0]):.2f}x the first (limit "
            f"{args.max_ratio:g}x)"
        )
    append_results(section(command, database, args, chosen, len(cursors) + 1, seconds))
    console.print("section appended to bench/RESULTS.md")
    for problem in problems:
        console.print(f"[red]{problem}[/]")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
