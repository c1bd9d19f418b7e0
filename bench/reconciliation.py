"""Reconciliation at scale: `python -m bench.reconciliation` (also in `make bench`).

A throwaway database (PostgreSQL, else SQLite) gets two months of posted invoices
by bulk insert: 100,000 in one (the baseline) and 1,000,000 in the other, every
tenth billed in billing. Each month is then reconciled in a child process of its
own, through `process_apis.reconciliation.service.reconcile` exactly as the API and
the worker run it, against ERP and billing ports that generate the month's documents
page by page (the ERP in the reverse of our key order, so the comparison must sort):
the sandboxes keep their stores in memory, and a million documents there would
measure the sandbox, not the reconciliation. A few differences of each kind are
planted, and the run must find exactly those. The child reports its wall time and
its peak resident set size (`ru_maxrss`), which must stay within 200 MiB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from datetime import time as clock
from typing import Any, cast

from rich.console import Console
from sqlalchemy import insert

from app.seed import demo_id
from bench.harness import (
    append_results,
    host_line,
    markdown_table,
    rich_table,
    scratch_directory,
    throwaway_database,
)
from core.db import create_engine, create_sessionmaker
from core.models.invoice import InvoiceRow
from core.settings import Settings
from process_apis.deps import ProcessContext
from process_apis.reconciliation import service
from process_apis.reconciliation.periods import month_bounds
from sandboxes.demo_estate import DEMO_CATALOG, MONTH_UNIT
from system_apis.billing.port import BillingPort
from system_apis.billing.schemas import BillingInvoice, BillingInvoiceStatus
from system_apis.erp.port import ErpPort
from system_apis.erp.schemas import (
    ErpCustomerPayment,
    ErpDocumentStatus,
    ErpItem,
    ErpLedgerEntry,
    ErpSalesCreditMemo,
    ErpSalesInvoice,
)

US_ENTITY = demo_id("legal_entity", 1)
ACME = demo_id("customer", 1)
PERIODS = ("2026-01", "2026-02")
SIZES = (100_000, 1_000_000)
BATCH = 10_000
RSS_TARGET_MIB = 200
# Planted per 100,000 documents: the ERP booked one cent less tax on one, never got
# another, and billing holds a third at a different amount.
TAX_OFF, NOT_POSTED, BILLED_OFF = 1, 2, 10


def key(period: str, index: int) -> str:
    return f"inv_{period.replace('-', '')}{index:020d}"


def amounts(index: int) -> tuple[int, int]:
    """(total, tax) of document `index`."""
    subtotal = 1000 + index % 997
    return subtotal + subtotal // 10, subtotal // 10


async def generate(url: str, sizes: dict[str, int]) -> None:
    """Bulk-insert each month's posted invoices into the gateway's database."""
    engine = create_engine(url)
    try:
        for period, count in sizes.items():
            day = month_bounds(period)[0]
            for start in range(0, count, BATCH):
                rows = []
                for index in range(start, min(start + BATCH, count)):
                    total, tax = amounts(index)
                    rows.append(
                        {
                            "id": key(period, index),
                            "customer_id": ACME,
                            "legal_entity_id": US_ENTITY,
                            "currency": "USD",
                            "invoice_date": day,
                            "due_date": day,
                            "subtotal": total - tax,
                            "tax_total": tax,
                            "total": total,
                            "status": "posted",
                            "version": 1,
                            "posting_date": day,
                            "erp_document_number": f"PS-{index}",
                            "billing_ref": f"in_{period}_{index}" if index % 10 == 0 else None,
                        }
                    )
                async with engine.begin() as connection:
                    await connection.execute(insert(InvoiceRow), rows)
    finally:
        await engine.dispose()


async def _nothing() -> AsyncIterator[Any]:
    """A stream with no documents."""
    empty: tuple[Any, ...] = ()
    for nothing in empty:
        yield nothing


class GeneratedErp:
    """The month's posted invoices, paged in the reverse of our key order."""

    def __init__(self, period: str, count: int) -> None:
        self.period, self.count = period, count

    async def stream_sales_invoices(
        self, _company: str, posted_from: date, _posted_to: date
    ) -> AsyncIterator[ErpSalesInvoice]:
        for index in reversed(range(self.count)):
            if index % 100_000 == NOT_POSTED:
                continue
            total, tax = amounts(index)
            if index % 100_000 == TAX_OFF:
                total, tax = total - 1, tax - 1
            yield ErpSalesInvoice(
                id=f"erp-{index}",
                number=f"PS-{index}",
                external_document_number=key(self.period, index),
                customer_number="C-1",
                currency="USD",
                posting_date=posted_from,
                status=ErpDocumentStatus.POSTED,
                line_count=1,
                total_excluding_tax=total - tax,
                total_tax=tax,
                total_including_tax=total,
                remaining_amount=total,
            )
            if index % 1000 == 0:
                await asyncio.sleep(0)  # a page boundary: the event loop runs

    def stream_sales_credit_memos(
        self, *_: object, **__: object
    ) -> AsyncIterator[ErpSalesCreditMemo]:
        return _nothing()

    def stream_customer_payments(
        self, *_: object, **__: object
    ) -> AsyncIterator[ErpCustomerPayment]:
        return _nothing()

    def stream_ledger_entries(self, *_: object, **__: object) -> AsyncIterator[ErpLedgerEntry]:
        return _nothing()

    async def stream_items(self, _company: str, *, currency: str) -> AsyncIterator[ErpItem]:
        """The seeded catalog's items, as the ERP sandbox holds them: the catalog agrees."""
        for number, product in enumerate(DEMO_CATALOG):
            yield ErpItem(
                id=str(number),
                number=product.item_number,
                display_name=product.name,
                unit_price=product.monthly_prices[currency],
                blocked=False,
                base_unit_of_measure=MONTH_UNIT,
            )


class GeneratedBilling:
    """Billing's invoices of the month: every tenth document, newest first."""

    def __init__(self, period: str, count: int) -> None:
        self.period, self.count = period, count

    async def stream_invoices(self, **_window: datetime) -> AsyncIterator[BillingInvoice]:
        created = datetime.combine(month_bounds(self.period)[0], clock(12), tzinfo=UTC)
        for index in reversed(range(0, self.count, 10)):
            total, tax = amounts(index)
            if index % 100_000 == BILLED_OFF:
                total += 5
            yield BillingInvoice(
                id=f"in_{self.period}_{index}",
                customer_id="cus_1",
                currency="USD",
                status=BillingInvoiceStatus.OPEN,
                subtotal=total - tax,
                tax=tax,
                total=total,
                amount_paid=0,
                reference=None,
                created_at=created,
            )

    def stream_credit_notes(self, *_: object, **__: object) -> AsyncIterator[Any]:
        return _nothing()

    def stream_products(self) -> AsyncIterator[Any]:
        return _nothing()

    def stream_prices(self) -> AsyncIterator[Any]:
        return _nothing()


async def reconcile(url: str, period: str, count: int) -> dict[str, Any]:
    settings = Settings(database_url=url)
    engine = create_engine(url)
    context = ProcessContext(
        settings=settings,
        sessionmaker=create_sessionmaker(engine),
        erp=cast(ErpPort, GeneratedErp(period, count)),
        billing=cast(BillingPort, GeneratedBilling(period, count)),
        crm=cast(Any, None),
        support=cast(Any, None),
    )
    started = time.perf_counter()
    try:
        result = await service.reconcile(
            context, legal_entity_id=US_ENTITY, period=period, trigger="bench"
        )
    finally:
        await engine.dispose()
    seconds = time.perf_counter() - started
    [invoices] = result.totals
    return {
        "period": period,
        "documents": count,
        "seconds": seconds,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "differences": sorted({d.cause.value for d in result.differences}),
        "difference_count": result.difference_count,
        "catalog_clean": result.catalog_difference_count == 0,
        "gateway_count": invoices.gateway_count,
        "erp_count": invoices.erp_count,
        "billing_count": invoices.billing_count,
    }


def expected_differences(count: int) -> int:
    """The planted ones: one of each kind in every block of 100,000 documents reached."""
    return sum(len(range(planted, count, 100_000)) for planted in (TAX_OFF, NOT_POSTED, BILLED_OFF))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--sizes",
        default=",".join(str(size) for size in SIZES),
        help="documents per month, the baseline first (default: %(default)s)",
    )
    parser.add_argument("--reconcile", metavar="PERIOD", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reconcile:  # the child: one month, its own peak RSS
        print(json.dumps(asyncio.run(reconcile(args.url, args.reconcile, args.count))))  # noqa: T201
        return
    sizes = dict(zip(PERIODS, (int(size) for size in args.sizes.split(",")), strict=True))
    console = Console()
    with scratch_directory() as scratch, throwaway_database(scratch) as database:
        started = time.perf_counter()
        asyncio.run(generate(database.url, sizes))
        generated = time.perf_counter() - started
        console.print(f"generated {sum(sizes.values()):,} invoices in {generated:.0f} s")
        figures = []
        for period, count in sizes.items():
            child = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.reconciliation",
                    "--reconcile",
                    period,
                    "--url",
                    database.url,
                    "--count",
                    str(count),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            figures.append(json.loads(child.stdout.strip().splitlines()[-1]))
    problems = (
        [
            f"{f['period']}: {f['difference_count']} differences, expected "
            f"{expected_differences(f['documents'])}"
            for f in figures
            if f["difference_count"] != expected_differences(f["documents"])
        ]
        + [f"{f['period']}: the catalog drifted" for f in figures if not f["catalog_clean"]]
        + [
            f"{f['period']}: peak RSS {f['peak_rss_mib']:.0f} MiB over {RSS_TARGET_MIB}"
            for f in figures
            if f["peak_rss_mib"] > RSS_TARGET_MIB
        ]
    )
    columns = ("documents", "database", "time", "peak RSS", "per 100k", "differences found")
    rows = [
        (
            f"{f['documents']:,}",
            database.description.split(" ")[0],
            f"{f['seconds']:.1f} s",
            f"{f['peak_rss_mib']:.0f} MiB",
            f"{f['seconds'] / f['documents'] * 100_000:.1f} s",
            f"{f['difference_count']} ({', '.join(f['differences'])})",
        )
        for f in figures
    ]
    console.print(rich_table("reconciliation at scale", columns, rows))
    append_results(
        f"## Reconciliation at scale (`python -m bench.reconciliation`), "
        f"{datetime.now(UTC):%Y-%m-%d}\n\n"
        f"{host_line()}; {database.description}. One month of posted invoices per row, "
        f"every tenth also in billing; each month reconciled three ways in a child process "
        f"of its own (its peak RSS is the whole process's). Target: peak RSS at most "
        f"{RSS_TARGET_MIB} MiB at 1,000,000 documents. Generating the "
        f"{sum(sizes.values()):,} gateway rows by bulk insert took {generated:.0f} s.\n\n"
        + markdown_table(columns, rows)
        + ("\n" + "\n".join(f"- FAILED: {p}" for p in problems) + "\n" if problems else "")
    )
    if problems:
        for problem in problems:
            console.print(f"[red]{problem}[/]")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
