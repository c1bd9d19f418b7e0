"""Booking served lines to deferred revenue at posting: the account a line is given once,
and the schedule drawn up from it, which books its billing as the invoice did."""

from __future__ import annotations

from datetime import date

from core.models.invoice import InvoiceLineRow, InvoiceRow
from core.models.revenue import EntryKind, RecognitionMethod
from core.settings import RevenueAccounts, RevenueSettings
from process_apis.invoices.deferral import defer_served_lines
from process_apis.revenue.schedules import new_schedule, schedule_entries

SETTINGS = RevenueSettings(
    accounts={"LG-US:prod_pro": RevenueAccounts(deferred="24500", revenue="40500")}
)


def line(sequence: int, product: str | None, *, served: bool) -> InvoiceLineRow:
    return InvoiceLineRow(
        id=f"invl_{sequence}",
        sequence=sequence,
        description="x",
        quantity=1,
        unit_amount=12000,
        amount=12000,
        tax_code="STANDARD",
        tax_amount=0,
        product_id=product,
        service_period_start=date(2026, 1, 1) if served else None,
        service_period_end=date(2026, 12, 31) if served else None,
    )


def invoice(*lines: InvoiceLineRow) -> InvoiceRow:
    return InvoiceRow(
        id="inv_1",
        legal_entity_id="le_1",
        currency="USD",
        invoice_date=date(2026, 1, 5),
        posting_date=date(2026, 1, 5),
        lines=list(lines),
    )


def test_a_served_line_gets_its_products_deferred_account_once() -> None:
    posted = invoice(
        line(1, "prod_pro", served=True),
        line(2, "prod_other", served=True),
        line(3, "prod_pro", served=False),
    )
    defer_served_lines(posted, "LG-US", SETTINGS)
    assert [item.deferred_account for item in posted.lines] == ["24500", "24000", None]

    # posted again after the configuration changed: the first posting's accounts stay
    changed = RevenueSettings(deferred_account="29000")
    defer_served_lines(posted, "LG-US", changed)
    assert [item.deferred_account for item in posted.lines] == ["24500", "24000", None]


def test_a_schedule_books_its_billing_as_its_line_was_posted() -> None:
    booked, legacy = line(1, "prod_pro", served=True), line(2, "prod_pro", served=True)
    booked.deferred_account = "24900"  # chosen at posting, since configured otherwise
    posted = invoice(booked, legacy)
    schedule = new_schedule(booked, posted, "LG-US", settings=SETTINGS, rules={})
    assert (schedule["deferred_account"], schedule["revenue_account"]) == ("24900", "40500")
    entries = schedule_entries(schedule, booked=True)
    assert [(e["kind"], e["amount"]) for e in entries[:1]] == [(EntryKind.BOOKED, 12000)]
    assert {e["kind"] for e in entries[1:]} == {EntryKind.RECOGNITION}
    assert sum(e["amount"] for e in entries[1:]) == 12000

    before = new_schedule(legacy, posted, "LG-US", settings=SETTINGS, rules={})
    assert before["deferred_account"] == "24500"
    assert before["method"] == RecognitionMethod.RATABLE_DAILY
    assert schedule_entries(before, booked=False)[0]["kind"] == EntryKind.DEFERRAL
