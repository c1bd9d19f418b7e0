"""Revenue recognition at scale: `python -m bench.revenue [--sizes 10000,100000]`.

For each size, a throwaway database (PostgreSQL, else SQLite) gets that many posted
invoice lines with a two-month service period from this month (a hundred lines per
invoice, by bulk insert), and their schedules are drawn up through
`process_apis.revenue.schedules.sync`, as a recognition run does. Then a child process
recognizes this month through `RecognitionWorkflow.run_period` exactly as the API and the
worker run it (its calendar moved to the next month's first day), against an ERP port
that books the journal entry in memory: the sandboxes would measure themselves. The
child reports its wall time and peak resident set size (`VmHWM`). The first size is
the baseline: the cost per schedule of the others is compared with it (target ≤ 1.2),
and every peak RSS with 200 MiB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
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
from core.models.invoice import InvoiceLineRow, InvoiceRow
from core.settings import Settings
from process_apis.deps import ProcessContext
from process_apis.revenue import schedules
from process_apis.revenue.plan import next_month
from process_apis.revenue.workflow import RecognitionWorkflow
from system_apis.erp.port import ErpPort
from system_apis.erp.schemas import (
    ErpDocumentStatus,
    ErpJournal,
    ErpJournalCreate,
    ErpJournalEntry,
    ErpJournalEntryCreate,
    ErpLedgerEntry,
)

US_ENTITY = demo_id("legal_entity", 1)
ACME = demo_id("customer", 1)
SIZES = (10_000, 100_000)
LINES_PER_INVOICE = 100
RATIO_TARGET = 1.2
RSS_TARGET_MIB = 200


def this_month() -> date:
    return datetime.now(UTC).date().replace(day=1)


async def generate(url: str, count: int) -> float:
    """Posted invoice lines with a service period, and their schedules; returns seconds."""
    first = this_month()
    end = first
    for _ in range(2):
        end = next_month(end)
    end -= timedelta(days=1)
    engine = create_engine(url)
    try:
        for start in range(0, count, LINES_PER_INVOICE * 100):
            invoices, lines = [], []
            for index in range(start, min(start + LINES_PER_INVOICE * 100, count)):
                invoice_id = f"inv_bench{index // LINES_PER_INVOICE:021d}"
                if index % LINES_PER_INVOICE == 0:
                    invoices.append(
                        {
                            "id": invoice_id,
                            "customer_id": ACME,
                            "legal_entity_id": US_ENTITY,
                            "currency": "USD",
                            "invoice_date": first,
                            "due_date": first,
                            "subtotal": 0,
                            "tax_total": 0,
                            "total": 0,
                            "status": "posted",
                            "version": 1,
                            "posting_date": first,
                        }
                    )
                amount = 1000 + index % 997
                lines.append(
                    {
                        "id": f"inl_bench{index:021d}",
                        "invoice_id": invoice_id,
                        "sequence": index % LINES_PER_INVOICE + 1,
                        "description": "Pro, two months",
                        "quantity": 1,
                        "unit_amount": amount,
                        "amount": amount,
                        "tax_code": "STANDARD",
                        "tax_amount": 0,
                        "service_period_start": first + timedelta(days=index % 28),
                        "service_period_end": end,
                    }
                )
            async with engine.begin() as connection:
                await connection.execute(insert(InvoiceRow), invoices)
                await connection.execute(insert(InvoiceLineRow), lines)
        started = time.perf_counter()
        async with create_sessionmaker(engine)() as session:
            await schedules.sync(session, settings=Settings().revenue, today=first)
            await session.commit()
        return time.perf_counter() - started
    finally:
        await engine.dispose()


class MemoryJournals:
    """Books a journal entry in memory, its ledger entries one per line."""

    async def ensure_journal(self, _company: str, journal: ErpJournalCreate) -> ErpJournal:
        return ErpJournal(
            id="journal-1", code=journal.code, display_name=None, balancing_account_number=None
        )

    async def add_journal_entry(
        self, _company: str, journal_id: str, entry: ErpJournalEntryCreate
    ) -> ErpJournalEntry:
        self.entry = entry
        return self._entry(journal_id, ErpDocumentStatus.DRAFT)

    async def post_journal_entry(
        self, _company: str, journal_id: str, _document: str, _currency: str
    ) -> ErpJournalEntry:
        return self._entry(journal_id, ErpDocumentStatus.POSTED)

    def _entry(self, journal_id: str, status: ErpDocumentStatus) -> ErpJournalEntry:
        posted = status == ErpDocumentStatus.POSTED
        return ErpJournalEntry(
            journal_id=journal_id,
            document_number=self.entry.document_number,
            status=status,
            currency=self.entry.currency,
            lines=self.entry.lines,
            ledger_entries=tuple(
                ErpLedgerEntry(
                    entry_number=number,
                    posting_date=self.entry.posting_date,
                    document_number=self.entry.document_number,
                    account_number=line.account_number,
                    description=line.description,
                    debit=max(line.amount, 0),
                    credit=max(-line.amount, 0),
                )
                for number, line in enumerate(self.entry.lines, 1)
            )
            if posted
            else (),
        )


def peak_rss_mib() -> float:
    """This process's peak resident set size (`VmHWM`). Not `ru_maxrss`, which a child keeps
    from its parent across fork and exec: it would count the generator's memory."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


async def recognize(url: str, count: int) -> dict[str, Any]:
    engine = create_engine(url)
    day = next_month(this_month())
    context = ProcessContext(
        settings=Settings(database_url=url),
        sessionmaker=create_sessionmaker(engine),
        erp=cast(ErpPort, MemoryJournals()),
        billing=cast(Any, None),
        crm=cast(Any, None),
        support=cast(Any, None),
        today=lambda: day,
    )
    started = time.perf_counter()
    try:
        result = await RecognitionWorkflow(context).run_period(
            f"{this_month():%Y-%m}",
            legal_entity_id=US_ENTITY,
            client_id="bench",
            correlation_id=None,
        )
    finally:
        await engine.dispose()
    [run] = result.runs
    return {
        "schedules": count,
        "seconds": time.perf_counter() - started,
        "peak_rss_mib": peak_rss_mib(),
        "status": run.status.value,
        "entries": run.entry_count,
        "deferred": run.deferred_total,
        "recognized": run.recognized_total,
    }


def measure(count: int) -> tuple[dict[str, Any], float, str]:
    """One size in a database of its own: (the child's figures, generation seconds, database)."""
    with scratch_directory() as scratch, throwaway_database(scratch) as database:
        drawn_up = asyncio.run(generate(database.url, count))
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.revenue",
                "--recognize",
                str(count),
                "--url",
                database.url,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return json.loads(child.stdout.strip().splitlines()[-1]), drawn_up, database.description


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--sizes",
        default=",".join(str(size) for size in SIZES),
        help="active schedules per run, the baseline first (default: %(default)s)",
    )
    parser.add_argument("--recognize", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.recognize:  # the child: one run, its own peak RSS
        print(json.dumps(asyncio.run(recognize(args.url, args.recognize))))  # noqa: T201
        return
    console = Console()
    measured = [measure(int(size)) for size in args.sizes.split(",")]
    figures = [f for f, _, _ in measured]
    baseline = figures[0]["seconds"] / figures[0]["schedules"]
    problems = (
        [
            f"{f['schedules']:,}: run {f['status']}, {f['entries']} entries"
            for f in figures
            if f["status"] != "posted" or f["entries"] != 2 * f["schedules"]
        ]
        + [
            f"{f['schedules']:,}: peak RSS {f['peak_rss_mib']:.0f} MiB over {RSS_TARGET_MIB}"
            for f in figures
            if f["peak_rss_mib"] > RSS_TARGET_MIB
        ]
        + [
            f"{f['schedules']:,}: cost per schedule "
            f"{f['seconds'] / f['schedules'] / baseline:.2f}x the baseline, over {RATIO_TARGET}"
            for f in figures[1:]
            if f["seconds"] / f["schedules"] / baseline > RATIO_TARGET
        ]
    )
    columns = ("schedules", "run", "µs per schedule", "ratio", "peak RSS", "schedules drawn up")
    rows = [
        (
            f"{f['schedules']:,}",
            f"{f['seconds']:.2f} s",
            f"{f['seconds'] / f['schedules'] * 1e6:.1f}",
            f"{f['seconds'] / f['schedules'] / baseline:.2f}",
            f"{f['peak_rss_mib']:.0f} MiB",
            f"{drawn_up:.1f} s",
        )
        for f, drawn_up, _ in measured
    ]
    console.print(rich_table("revenue recognition at scale", columns, rows))
    for problem in problems:
        console.print(f"[red]FAILED[/red] {problem}")
    append_results(
        f"## Revenue recognition at scale (`python -m bench.revenue --sizes {args.sizes}`), "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
        f"{host_line()}; {measured[0][2]}, one per size. Each size's recognition run of this "
        f"month (its deferral and its first month's recognition: two entries per schedule, "
        f"one journal) in a child process of its own, against an in-memory ERP journal. "
        f"Ratio: cost per schedule against the first size's. Targets: ratio ≤ {RATIO_TARGET}, "
        f"peak RSS ≤ {RSS_TARGET_MIB} MiB.\n\n"
        + markdown_table(columns, rows)
        + ("\n" + "\n".join(f"- FAILED: {p}" for p in problems) + "\n" if problems else "")
    )
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
