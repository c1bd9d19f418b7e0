"""Port-level scenarios of the ledger side, on every ERP adapter over its sandbox:
customer payments, settlement journal entries, and the period's documents read back."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from sandboxes.demo_estate import closed_period, first_open_day
from system_apis.erp.schemas import ErpDocumentStatus, ErpSalesInvoice
from system_apis.errors import BackendBusinessError, BackendTransientError
from tests.support.business_central import (
    PAYMENTS,
    SETTLEMENTS,
    credit_memo_request,
    invoice_request,
    payment_request,
    settlement_entry,
)
from tests.system_apis.erp.harness import CUSTOMER, ERPS, Erp


async def posted_invoice(
    erp: Erp, external: str, *, posting_date: date | None = None
) -> ErpSalesInvoice:
    await erp.adapter.upsert_customer(erp.company_id, CUSTOMER)
    draft = await erp.adapter.create_sales_invoice(
        erp.company_id, invoice_request(external, posting_date=posting_date)
    )
    return await erp.adapter.post_sales_invoice(erp.company_id, draft.id)


async def test_payments_reduce_what_the_invoice_owes_until_it_is_paid(erp: Erp) -> None:
    company = erp.company_id
    invoice = await posted_invoice(erp, "inv_pay_1")
    journal = await erp.adapter.ensure_customer_payment_journal(company, PAYMENTS)

    first = await erp.adapter.apply_customer_payment(
        company, journal.id, payment_request("pay_1", invoice.id, 10000)
    )
    again = await erp.adapter.apply_customer_payment(
        company, journal.id, payment_request("pay_1", invoice.id, 10000)
    )
    after_first = await erp.adapter.get_sales_invoice(company, invoice.id)
    await erp.adapter.apply_customer_payment(
        company, journal.id, payment_request("pay_2", invoice.id, 4353)
    )
    after_second = await erp.adapter.get_sales_invoice(company, invoice.id)

    assert again == first
    assert (first.amount, first.currency, first.journal_id) == (10000, "USD", journal.id)
    assert (first.applies_to_invoice_id, first.applies_to_invoice_number) == (
        invoice.id,
        invoice.number,
    )
    assert (first.external_document_number, first.customer_number) == ("pay_1", "C0001")
    assert first.posting_date == first_open_day()
    assert first.document_number is not None
    assert (after_first.status, after_first.remaining_amount) == (ErpDocumentStatus.POSTED, 4353)
    assert (after_second.status, after_second.remaining_amount) == (ErpDocumentStatus.PAID, 0)
    assert erp.payment_count("pay_1") == 1


async def test_a_payment_whose_answer_was_lost_is_applied_once(erp: Erp) -> None:
    company = erp.company_id
    invoice = await posted_invoice(erp, "inv_pay_2")
    journal = await erp.adapter.ensure_customer_payment_journal(company, PAYMENTS)
    erp.faults.matches = erp.creates_payment
    erp.faults.after_forwarding = True
    payment = payment_request("pay_3", invoice.id, 5000)

    with pytest.raises(BackendTransientError):
        await erp.adapter.apply_customer_payment(company, journal.id, payment)
    applied = await erp.adapter.apply_customer_payment(company, journal.id, payment)

    assert applied.amount == 5000
    assert erp.payment_count("pay_3") == 1
    assert (await erp.adapter.get_sales_invoice(company, invoice.id)).remaining_amount == 9353


async def test_a_payment_over_what_the_invoice_owes_is_refused(erp: Erp) -> None:
    company = erp.company_id
    invoice = await posted_invoice(erp, "inv_pay_3")
    journal = await erp.adapter.ensure_customer_payment_journal(company, PAYMENTS)

    with pytest.raises(BackendBusinessError):
        await erp.adapter.apply_customer_payment(
            company, journal.id, payment_request("pay_4", invoice.id, 14354)
        )

    assert (await erp.adapter.get_sales_invoice(company, invoice.id)).remaining_amount == 14353
    assert erp.payment_count("pay_4") == 0


async def test_a_journal_entry_is_added_once_and_posted_to_the_ledger_once(erp: Erp) -> None:
    company = erp.company_id
    journal = await erp.adapter.ensure_journal(company, SETTLEMENTS)

    draft = await erp.adapter.add_journal_entry(company, journal.id, settlement_entry("STL-1"))
    again = await erp.adapter.add_journal_entry(company, journal.id, settlement_entry("STL-1"))
    posted = await erp.adapter.post_journal_entry(company, journal.id, "STL-1", "USD")
    reposted = await erp.adapter.post_journal_entry(company, journal.id, "STL-1", "USD")
    added_after_posting = await erp.adapter.add_journal_entry(
        company, journal.id, settlement_entry("STL-1")
    )

    assert draft == again
    assert (draft.status, draft.document_number) == (ErpDocumentStatus.DRAFT, "STL-1")
    assert [line.amount for line in draft.lines] == [2500, -2500]
    assert draft.ledger_entries == ()
    assert (posted.status, posted.lines) == (ErpDocumentStatus.POSTED, ())
    assert [(e.account_number, e.debit, e.credit) for e in posted.ledger_entries] == [
        ("60100", 2500, 0),
        ("21500", 0, 2500),
    ]
    assert {e.document_number for e in posted.ledger_entries} == {"STL-1"}
    assert reposted == added_after_posting == posted


async def test_a_journal_entry_in_a_closed_period_is_refused_and_stays_a_draft(erp: Erp) -> None:
    company = erp.company_id
    journal = await erp.adapter.ensure_journal(company, SETTLEMENTS)
    closed_day, _ = closed_period()
    await erp.adapter.add_journal_entry(
        company, journal.id, settlement_entry("STL-2", posting_date=closed_day)
    )

    with pytest.raises(BackendBusinessError):
        await erp.adapter.post_journal_entry(company, journal.id, "STL-2", "USD")
    entry = await erp.adapter.add_journal_entry(
        company, journal.id, settlement_entry("STL-2", posting_date=closed_day)
    )

    assert (entry.status, entry.ledger_entries) == (ErpDocumentStatus.DRAFT, ())


async def test_journal_lines_that_differ_from_the_entry_are_a_business_error(erp: Erp) -> None:
    company = erp.company_id
    journal = await erp.adapter.ensure_journal(company, SETTLEMENTS)
    await erp.adapter.add_journal_entry(company, journal.id, settlement_entry("STL-3"))

    with pytest.raises(BackendBusinessError):
        await erp.adapter.add_journal_entry(
            company, journal.id, settlement_entry("STL-3", amount=2600)
        )


@pytest.mark.parametrize("kind", ERPS)
async def test_the_period_is_read_back_page_by_page_in_a_stable_order(kind: str) -> None:
    erp = ERPS[kind](page_size=2)
    company, start = erp.company_id, first_open_day()
    end, later = start + timedelta(days=27), start + timedelta(days=40)
    invoices = [await posted_invoice(erp, f"inv_s{n}") for n in range(3)]
    await erp.adapter.create_sales_invoice(company, invoice_request("inv_draft"))
    await posted_invoice(erp, "inv_later", posting_date=later)
    memo = await erp.adapter.create_sales_credit_memo(
        company, credit_memo_request("cm_s", applies_to_invoice_id=invoices[0].id, unit_price=100)
    )
    memo = await erp.adapter.post_sales_credit_memo(company, memo.id)
    payments = await erp.adapter.ensure_customer_payment_journal(company, PAYMENTS)
    paid = await erp.adapter.apply_customer_payment(
        company, payments.id, payment_request("pay_s", invoices[1].id, 1000)
    )
    journal = await erp.adapter.ensure_journal(company, SETTLEMENTS)
    for number, amount in (("STL-S1", 2500), ("STL-S2", 700)):
        await erp.adapter.add_journal_entry(
            company, journal.id, settlement_entry(number, amount=amount)
        )
        await erp.adapter.post_journal_entry(company, journal.id, number, "USD")
    await erp.adapter.add_journal_entry(company, journal.id, settlement_entry("STL-S3"))

    streamed = [i async for i in erp.adapter.stream_sales_invoices(company, start, end)]
    again = [i async for i in erp.adapter.stream_sales_invoices(company, start, end)]
    memos = [m async for m in erp.adapter.stream_sales_credit_memos(company, start, end)]
    received = [
        p
        async for p in erp.adapter.stream_customer_payments(
            company, PAYMENTS.code, start, end, currency="USD"
        )
    ]
    ledger = [
        e
        async for e in erp.adapter.stream_ledger_entries(
            company, start, end, account_number="21500", currency="USD"
        )
    ]

    assert [i.external_document_number for i in streamed] == ["inv_s0", "inv_s1", "inv_s2"]
    assert streamed == again
    assert [(i.total_including_tax, i.total_tax) for i in streamed] == [(14353, 355)] * 3
    assert [(i.remaining_amount, i.number) for i in streamed[1:]] == [
        (13353, invoices[1].number),
        (14353, invoices[2].number),
    ]
    assert memos == [memo]
    assert memos[0].total_including_tax == 109
    assert received == [paid]
    assert [(e.document_number, e.debit, e.credit) for e in ledger] == [
        ("STL-S1", 0, 2500),
        ("STL-S2", 0, 700),
    ]
    assert {e.account_number for e in ledger} == {"21500"}
    assert await erp.adapter.list_sales_invoices(company, start, end) == tuple(streamed)
    assert await erp.adapter.list_sales_credit_memos(company, start, end) == (memo,)
    assert await erp.adapter.list_ledger_entries(
        company, start, end, account_number="21500", currency="USD"
    ) == tuple(ledger)
    assert (
        await erp.adapter.find_sales_invoice_by_number(company, invoices[2].number or "")
        == (streamed[2])
    )
    assert await erp.adapter.find_sales_invoice_by_number(company, "NO-SUCH") is None
