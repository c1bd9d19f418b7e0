"""The BC adapter's credit memos, journals, payments and reconciliation reads, on the sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta

import httpx
import pytest

from sandboxes.demo_estate import closed_period, first_open_day
from system_apis.erp.schemas import (
    ErpCurrency,
    ErpCustomerUpsert,
    ErpDocumentStatus,
    ErpInvoiceLine,
    ErpJournalLine,
    ErpLedgerEntry,
    ErpSalesInvoice,
)
from system_apis.errors import BackendBusinessError, BackendTransientError
from tests.support.business_central import (
    PAYMENTS,
    SETTLEMENTS,
    US,
    BcHarness,
    bc_harness,
    credit_memo_request,
    invoice_request,
    payment_request,
    settlement_entry,
)
from tests.system_apis.erp.harness import CUSTOMER

OTHER = ErpCustomerUpsert(number="C0002", display_name="Other Inc", currency="USD")


@pytest.fixture
async def bc() -> BcHarness:
    harness = bc_harness(page_size=2)
    await harness.adapter.upsert_customer(US.id, CUSTOMER)
    await harness.adapter.upsert_customer(US.id, OTHER)
    harness.recording.exchanges.clear()
    return harness


async def posted_invoice(
    bc: BcHarness,
    external: str,
    *,
    posting_date: date | None = None,
    lines: tuple[ErpInvoiceLine, ...] | None = None,
) -> ErpSalesInvoice:
    request = invoice_request(external, posting_date=posting_date, lines=lines)
    draft = await bc.adapter.create_sales_invoice(US.id, request)
    return await bc.adapter.post_sales_invoice(US.id, draft.id)


def _is_post(suffix: str) -> Callable[[httpx.Request], bool]:
    return lambda request: request.method == "POST" and request.url.path.endswith(suffix)


async def test_a_posted_invoice_owes_its_total_and_is_found_by_id_and_number(
    bc: BcHarness,
) -> None:
    invoice = await posted_invoice(bc, "inv_101")
    assert invoice.number is not None

    by_id = await bc.adapter.get_sales_invoice(US.id, invoice.id)
    by_number = await bc.adapter.find_sales_invoice_by_number(US.id, invoice.number)

    assert by_id == by_number == invoice
    assert invoice.remaining_amount == invoice.total_including_tax == 14353
    assert await bc.adapter.find_sales_invoice_by_number(US.id, "PS-INV999999") is None


async def test_list_sales_invoices_pages_through_the_posted_ones_in_the_range(
    bc: BcHarness,
) -> None:
    posted = [await posted_invoice(bc, f"inv_2{n}") for n in range(5)]
    await bc.adapter.create_sales_invoice(US.id, invoice_request("inv_draft"))
    later = first_open_day() + timedelta(days=40)
    await posted_invoice(bc, "inv_later", posting_date=later)
    bc.recording.exchanges.clear()

    listed = await bc.adapter.list_sales_invoices(US.id, first_open_day(), later - timedelta(1))

    assert listed == tuple(posted)
    pages = [r.url.params["$skip"] for r in bc.requests("GET", "/salesInvoices")]
    assert pages == ["0", "2", "4"]


async def test_list_sales_credit_memos_pages_through_the_posted_ones_in_the_range(
    bc: BcHarness,
) -> None:
    invoice = await posted_invoice(bc, "inv_cm")
    posted = []
    for n in range(3):
        request = credit_memo_request(f"cm_2{n}", applies_to_invoice_id=invoice.id, unit_price=100)
        draft = await bc.adapter.create_sales_credit_memo(US.id, request)
        posted.append(await bc.adapter.post_sales_credit_memo(US.id, draft.id))
    await bc.adapter.create_sales_credit_memo(US.id, credit_memo_request("cm_draft"))
    bc.recording.exchanges.clear()

    listed = await bc.adapter.list_sales_credit_memos(
        US.id, first_open_day(), first_open_day() + timedelta(days=40)
    )
    outside = await bc.adapter.list_sales_credit_memos(
        US.id, first_open_day() + timedelta(days=1), first_open_day() + timedelta(days=40)
    )

    assert listed == tuple(posted)
    assert outside == ()
    pages = [r.url.params["$skip"] for r in bc.requests("GET", "/salesCreditMemos")]
    assert pages == ["0", "2", "0"]


async def test_list_ledger_entries_keeps_one_account_within_the_range(bc: BcHarness) -> None:
    journal = await bc.adapter.ensure_journal(US.id, SETTLEMENTS)
    later = first_open_day() + timedelta(days=40)
    for number, amount, posting_date in (
        ("STL-L1", 100, None),
        ("STL-L2", 200, None),
        ("STL-L3", 300, None),
        ("STL-L4", 400, later),
    ):
        entry = settlement_entry(number, amount=amount, posting_date=posting_date)
        await bc.adapter.add_journal_entry(US.id, journal.id, entry)
        await bc.adapter.post_journal_entry(US.id, journal.id, number, "USD")
    bc.recording.exchanges.clear()

    listed = await bc.adapter.list_ledger_entries(
        US.id, first_open_day(), later - timedelta(days=1), account_number="21500", currency="USD"
    )

    assert [(e.document_number, e.account_number, e.debit, e.credit) for e in listed] == [
        ("STL-L1", "21500", 0, 100),
        ("STL-L2", "21500", 0, 200),
        ("STL-L3", "21500", 0, 300),
    ]
    pages = [r.url.params["$skip"] for r in bc.requests("GET", "/generalLedgerEntries")]
    assert pages == ["0", "2"]


async def test_list_currencies(bc: BcHarness) -> None:
    currencies = await bc.adapter.list_currencies(US.id)

    assert ErpCurrency(code="EUR", display_name="Euro", symbol="€") in currencies
    assert {c.code for c in currencies} == {"USD", "EUR", "GBP"}


async def test_a_credit_memo_is_created_once_and_posting_applies_it_to_its_invoice(
    bc: BcHarness,
) -> None:
    invoice = await posted_invoice(bc, "inv_301")
    request = credit_memo_request("cm_301", applies_to_invoice_id=invoice.id)

    draft = await bc.adapter.create_sales_credit_memo(US.id, request)
    again = await bc.adapter.create_sales_credit_memo(US.id, request)
    posted = await bc.adapter.post_sales_credit_memo(US.id, draft.id)
    reposted = await bc.adapter.post_sales_credit_memo(US.id, draft.id)

    assert again == draft
    assert draft.status is ErpDocumentStatus.DRAFT
    assert (draft.line_count, draft.total_including_tax) == (1, 2176)  # 19.99 + 1.77 tax
    assert posted.status is ErpDocumentStatus.PAID
    assert (posted.number, posted.applies_to_invoice_id) == ("PS-CR105001", invoice.id)
    assert posted.applies_to_invoice_number == invoice.number
    assert reposted == posted
    assert await bc.adapter.find_sales_credit_memo(US.id, "cm_301") == posted
    assert bc.state.credit_memo_count(US.id, "cm_301") == 1
    assert len(bc.requests("POST", "/salesCreditMemos")) == 1
    assert len(bc.batched("POST", "/Microsoft.NAV.post")) == 2  # the invoice and the memo
    invoice_now = await bc.adapter.get_sales_invoice(US.id, invoice.id)
    assert invoice_now.remaining_amount == 14353 - 2176
    assert invoice_now.status is ErpDocumentStatus.POSTED


async def test_a_credit_memo_for_the_whole_remaining_amount_pays_the_invoice(
    bc: BcHarness,
) -> None:
    invoice = await posted_invoice(
        bc, "inv_302", lines=credit_memo_request("x", unit_price=1000).lines
    )
    request = credit_memo_request("cm_302", applies_to_invoice_id=invoice.id, unit_price=1000)

    memo = await bc.adapter.create_sales_credit_memo(US.id, request)
    await bc.adapter.post_sales_credit_memo(US.id, memo.id)

    invoice_now = await bc.adapter.get_sales_invoice(US.id, invoice.id)
    assert (invoice_now.status, invoice_now.remaining_amount) == (ErpDocumentStatus.PAID, 0)


async def test_a_credit_memo_larger_than_what_the_invoice_owes_is_refused(
    bc: BcHarness,
) -> None:
    invoice = await posted_invoice(bc, "inv_303")
    first = credit_memo_request("cm_303a", applies_to_invoice_id=invoice.id, unit_price=10000)
    second = credit_memo_request("cm_303b", applies_to_invoice_id=invoice.id, unit_price=4000)
    memo = await bc.adapter.create_sales_credit_memo(US.id, first)
    await bc.adapter.post_sales_credit_memo(US.id, memo.id)  # 108.88 of 143.53 applied
    memo = await bc.adapter.create_sales_credit_memo(US.id, second)

    with pytest.raises(BackendBusinessError) as caught:
        await bc.adapter.post_sales_credit_memo(US.id, memo.id)

    assert caught.value.vendor_code == "Application_DialogException"
    assert "remaining amount 34.65" in str(caught.value)
    assert (await bc.adapter.find_sales_credit_memo(US.id, "cm_303b")) == memo
    assert (await bc.adapter.get_sales_invoice(US.id, invoice.id)).remaining_amount == 3465


async def test_a_credit_memo_must_correct_a_posted_invoice_of_its_customer(
    bc: BcHarness,
) -> None:
    invoice = await posted_invoice(bc, "inv_304")
    draft = await bc.adapter.create_sales_invoice(US.id, invoice_request("inv_305"))

    with pytest.raises(BackendBusinessError) as other_customer:
        await bc.adapter.create_sales_credit_memo(
            US.id,
            credit_memo_request(
                "cm_304", applies_to_invoice_id=invoice.id, customer_number="C0002"
            ),
        )
    with pytest.raises(BackendBusinessError) as not_posted:
        await bc.adapter.create_sales_credit_memo(
            US.id, credit_memo_request("cm_305", applies_to_invoice_id=draft.id)
        )

    assert other_customer.value.vendor_code == "Application_DialogException"
    assert not_posted.value.vendor_code == "Internal_RecordNotFound"


async def test_a_credit_memo_whose_insert_was_answered_too_late_is_not_created_twice(
    bc: BcHarness,
) -> None:
    bc.faults.matches = _is_post("/salesCreditMemos")
    bc.faults.after_forwarding = True  # BC created it; its answer was lost
    with pytest.raises(BackendTransientError):
        await bc.adapter.create_sales_credit_memo(US.id, credit_memo_request("cm_306"))

    memo = await bc.adapter.create_sales_credit_memo(US.id, credit_memo_request("cm_306"))

    assert memo.line_count == 1
    assert bc.state.credit_memo_count(US.id, "cm_306") == 1
    (insert,) = bc.requests("POST", "/salesCreditMemos")  # its lines went in it
    assert len(json.loads(insert.content)["salesCreditMemoLines"]) == 1
    assert bc.requests("POST", "/salesCreditMemoLines") == []


async def test_ensure_journal_creates_by_code_once_and_follows_changes(bc: BcHarness) -> None:
    created = await bc.adapter.ensure_journal(US.id, SETTLEMENTS)
    again = await bc.adapter.ensure_journal(US.id, SETTLEMENTS)
    changed = await bc.adapter.ensure_journal(
        US.id, SETTLEMENTS.model_copy(update={"balancing_account_number": "10100"})
    )

    assert again == created
    assert changed.id == created.id
    assert changed.balancing_account_number == "10100"
    assert len(bc.requests("POST", "/journals")) == 1
    (patch,) = bc.requests("PATCH", f"/journals({created.id})")
    assert patch.headers["If-Match"]


async def test_a_journal_is_posted_and_its_ledger_read_in_one_round_trip(bc: BcHarness) -> None:
    journal = await bc.adapter.ensure_journal(US.id, SETTLEMENTS)
    await bc.adapter.add_journal_entry(US.id, journal.id, settlement_entry("STL-1"))
    bc.recording.exchanges.clear()

    posted = await bc.adapter.post_journal_entry(US.id, journal.id, "STL-1", "USD")

    sent = [
        (e.request.method, e.request.url.path.rsplit("/", 1)[-1]) for e in bc.recording.exchanges
    ]
    assert sent == [("GET", "generalLedgerEntries"), ("POST", "$batch")]  # the check, then both
    assert [(e.account_number, e.debit, e.credit) for e in posted.ledger_entries] == [
        ("60100", 2500, 0),
        ("21500", 0, 2500),
    ]


async def test_a_journal_entry_is_added_once_and_posted_to_the_ledger_once(
    bc: BcHarness,
) -> None:
    journal = await bc.adapter.ensure_journal(US.id, SETTLEMENTS)

    draft = await bc.adapter.add_journal_entry(US.id, journal.id, settlement_entry("STL-1"))
    again = await bc.adapter.add_journal_entry(US.id, journal.id, settlement_entry("STL-1"))
    posted = await bc.adapter.post_journal_entry(US.id, journal.id, "STL-1", "USD")
    reposted = await bc.adapter.post_journal_entry(US.id, journal.id, "STL-1", "USD")
    added_after_posting = await bc.adapter.add_journal_entry(
        US.id, journal.id, settlement_entry("STL-1")
    )

    assert draft == again
    assert draft.status is ErpDocumentStatus.DRAFT
    assert [line.amount for line in draft.lines] == [2500, -2500]
    assert posted.status is ErpDocumentStatus.POSTED
    assert posted.lines == ()
    assert [(e.account_number, e.debit, e.credit) for e in posted.ledger_entries] == [
        ("60100", 2500, 0),
        ("21500", 0, 2500),
    ]
    assert reposted == added_after_posting == posted
    assert len(bc.requests("POST", "/journalLines")) == 2
    assert len(bc.batched("POST", "/Microsoft.NAV.post")) == 1
    assert len(bc.state.ledger(US.id)) == 2


async def test_a_journal_with_a_balancing_account_balances_each_line(bc: BcHarness) -> None:
    journal = await bc.adapter.ensure_journal(
        US.id, SETTLEMENTS.model_copy(update={"balancing_account_number": "10100"})
    )
    entry = settlement_entry("STL-2").model_copy(
        update={
            "lines": (ErpJournalLine(account_number="21500", amount=2500, description="Payout"),)
        }
    )

    await bc.adapter.add_journal_entry(US.id, journal.id, entry)
    posted = await bc.adapter.post_journal_entry(US.id, journal.id, "STL-2", "USD")

    assert posted.ledger_entries == (
        ErpLedgerEntry(
            entry_number=1,
            posting_date=first_open_day(),
            document_number="STL-2",
            account_number="21500",
            description="Payout",
            debit=2500,
            credit=0,
        ),
        ErpLedgerEntry(
            entry_number=2,
            posting_date=first_open_day(),
            document_number="STL-2",
            account_number="10100",
            description="Payout",
            debit=0,
            credit=2500,
        ),
    )


async def test_an_unbalanced_journal_is_refused_and_stays_a_draft(bc: BcHarness) -> None:
    journal = await bc.adapter.ensure_journal(US.id, SETTLEMENTS)
    entry = settlement_entry("STL-3", amount=2500)
    entry = entry.model_copy(
        update={"lines": (entry.lines[0], entry.lines[1].model_copy(update={"amount": -2400}))}
    )
    await bc.adapter.add_journal_entry(US.id, journal.id, entry)

    with pytest.raises(BackendBusinessError) as caught:
        await bc.adapter.post_journal_entry(US.id, journal.id, "STL-3", "USD")

    assert "Document No. STL-3 is out of balance by 1.00" in str(caught.value)
    assert bc.state.ledger(US.id) == []


async def test_a_journal_dated_in_a_closed_period_is_refused_until_moved(bc: BcHarness) -> None:
    journal = await bc.adapter.ensure_journal(US.id, SETTLEMENTS)
    closed_day, _ = closed_period()
    await bc.adapter.add_journal_entry(
        US.id, journal.id, settlement_entry("STL-4", posting_date=closed_day)
    )
    with pytest.raises(BackendBusinessError) as caught:
        await bc.adapter.post_journal_entry(US.id, journal.id, "STL-4", "USD")

    moved = await bc.adapter.add_journal_entry(US.id, journal.id, settlement_entry("STL-4"))
    posted = await bc.adapter.post_journal_entry(US.id, journal.id, "STL-4", "USD")

    line_patches = [
        e.request
        for e in bc.recording.exchanges
        if e.request.method == "PATCH" and "/journalLines(" in e.request.url.path
    ]
    assert "Posting Date is not within your range" in str(caught.value)
    assert len(line_patches) == len(moved.lines) == 2
    assert {e.posting_date for e in posted.ledger_entries} == {first_open_day()}


async def test_a_journal_entry_interrupted_after_its_first_line_is_completed(
    bc: BcHarness,
) -> None:
    journal = await bc.adapter.ensure_journal(US.id, SETTLEMENTS)
    line_posts = 0

    def second_line(request: httpx.Request) -> bool:
        nonlocal line_posts
        is_line = request.method == "POST" and request.url.path.endswith("/journalLines")
        line_posts += is_line
        return is_line and line_posts == 2

    bc.faults.matches = second_line
    bc.faults.after_forwarding = True
    with pytest.raises(BackendTransientError):
        await bc.adapter.add_journal_entry(US.id, journal.id, settlement_entry("STL-5"))

    entry = await bc.adapter.add_journal_entry(US.id, journal.id, settlement_entry("STL-5"))

    assert [line.account_number for line in entry.lines] == ["60100", "21500"]
    assert line_posts == 2


async def test_journal_lines_that_differ_from_the_entry_are_a_business_error(
    bc: BcHarness,
) -> None:
    journal = await bc.adapter.ensure_journal(US.id, SETTLEMENTS)
    await bc.adapter.add_journal_entry(US.id, journal.id, settlement_entry("STL-6", amount=100))

    with pytest.raises(BackendBusinessError) as caught:
        await bc.adapter.add_journal_entry(US.id, journal.id, settlement_entry("STL-6", amount=200))

    assert "differ from the entry" in str(caught.value)


async def test_payments_reduce_what_the_invoice_owes_until_it_is_paid(bc: BcHarness) -> None:
    invoice = await posted_invoice(bc, "inv_401")
    journal = await bc.adapter.ensure_customer_payment_journal(US.id, PAYMENTS)

    first = await bc.adapter.apply_customer_payment(
        US.id, journal.id, payment_request("pay_1", invoice.id, 10000)
    )
    after_first = await bc.adapter.get_sales_invoice(US.id, invoice.id)
    await bc.adapter.apply_customer_payment(
        US.id, journal.id, payment_request("pay_2", invoice.id, 4353)
    )
    after_second = await bc.adapter.get_sales_invoice(US.id, invoice.id)

    assert (first.amount, first.currency, first.applies_to_invoice_id) == (
        10000,
        "USD",
        invoice.id,
    )
    assert first.applies_to_invoice_number == invoice.number
    assert (first.document_number, first.external_document_number) == ("G00001", "pay_1")
    assert (after_first.status, after_first.remaining_amount) == (ErpDocumentStatus.POSTED, 4353)
    assert (after_second.status, after_second.remaining_amount) == (ErpDocumentStatus.PAID, 0)


async def test_a_payment_whose_answer_was_lost_is_applied_once(bc: BcHarness) -> None:
    invoice = await posted_invoice(bc, "inv_402")
    journal = await bc.adapter.ensure_customer_payment_journal(US.id, PAYMENTS)
    bc.faults.matches = _is_post("/customerPayments")
    bc.faults.after_forwarding = True
    payment = payment_request("pay_3", invoice.id, 5000)

    with pytest.raises(BackendTransientError):
        await bc.adapter.apply_customer_payment(US.id, journal.id, payment)
    applied = await bc.adapter.apply_customer_payment(US.id, journal.id, payment)
    again = await bc.adapter.apply_customer_payment(US.id, journal.id, payment)

    assert applied == again
    assert len(bc.requests("POST", "/customerPayments")) == 1
    assert (await bc.adapter.get_sales_invoice(US.id, invoice.id)).remaining_amount == 9353


async def test_a_payment_over_what_the_invoice_owes_is_refused(bc: BcHarness) -> None:
    invoice = await posted_invoice(bc, "inv_403")
    journal = await bc.adapter.ensure_customer_payment_journal(US.id, PAYMENTS)

    with pytest.raises(BackendBusinessError) as caught:
        await bc.adapter.apply_customer_payment(
            US.id, journal.id, payment_request("pay_4", invoice.id, 14354)
        )

    assert caught.value.vendor_code == "Application_DialogException"
    assert (await bc.adapter.get_sales_invoice(US.id, invoice.id)).remaining_amount == 14353
