"""Invoice and credit memo lines booked to a G/L account (deferred revenue at posting), on
every ERP adapter over its sandbox: the account's ledger holds what the lines booked."""

from __future__ import annotations

import pytest

from sandboxes.demo_estate import first_open_day
from system_apis.erp.schemas import ErpInvoiceLine, ErpLedgerEntry
from system_apis.errors import BackendBusinessError
from tests.support.business_central import credit_memo_request, invoice_request
from tests.system_apis.erp.harness import CUSTOMER, Erp, NsHarness

DEFERRED = "24000"


def line(sequence: int, unit_price: int, account: str | None) -> ErpInvoiceLine:
    return ErpInvoiceLine(
        sequence=sequence,
        description=f"Line {sequence}",
        quantity=2,
        unit_price=unit_price,
        tax_code="STANDARD",
        account_number=account,
    )


async def ledger(erp: Erp, account: str) -> list[tuple[int, int]]:
    day = first_open_day()
    found: list[ErpLedgerEntry] = [
        entry
        async for entry in erp.adapter.stream_ledger_entries(
            erp.company_id, day.replace(day=1), day, account_number=account, currency="USD"
        )
    ]
    return [(entry.debit, entry.credit) for entry in found]


async def test_lines_with_an_account_book_it_and_the_others_do_not(erp: Erp) -> None:
    company = erp.company_id
    await erp.adapter.upsert_customer(company, CUSTOMER)
    request = invoice_request("inv_acct_1", lines=(line(1, 5000, DEFERRED), line(2, 700, None)))
    draft = await erp.adapter.create_sales_invoice(company, request)
    assert await ledger(erp, DEFERRED) == []  # a draft books nothing
    invoice = await erp.adapter.post_sales_invoice(company, draft.id)
    memo = credit_memo_request("cm_acct_1", applies_to_invoice_id=invoice.id).model_copy(
        update={"lines": (line(1, 1250, DEFERRED),)}
    )
    await erp.adapter.post_sales_credit_memo(
        company, (await erp.adapter.create_sales_credit_memo(company, memo)).id
    )
    (bulk,) = await erp.adapter.post_new_sales_invoices(
        company, [invoice_request("inv_acct_2", lines=(line(1, 300, DEFERRED),))]
    )

    assert invoice.total_excluding_tax == 11400
    assert not isinstance(bulk, BaseException)
    # Each line's amount excluding tax: credited by the invoices, debited by the memo.
    assert sorted(await ledger(erp, DEFERRED)) == [(0, 600), (0, 10000), (2500, 0)]


async def test_a_line_on_an_account_the_erp_lacks_is_refused(erp: Erp) -> None:
    await erp.adapter.upsert_customer(erp.company_id, CUSTOMER)
    request = invoice_request("inv_acct_3", lines=(line(1, 5000, "99999"),))

    with pytest.raises(BackendBusinessError):
        await erp.adapter.create_sales_invoice(erp.company_id, request)

    assert erp.document_count("inv_acct_3") == 0


async def test_netsuite_reads_documents_only_for_an_account_sales_lines_can_book(
    ns: NsHarness,
) -> None:
    company = ns.us_subsidiary
    request = invoice_request("inv_acct_4", lines=(line(1, 5000, DEFERRED),))
    draft = await ns.adapter.create_sales_invoice(company, request)
    await ns.adapter.post_sales_invoice(company, draft.id)
    day = first_open_day()
    ns.recording.exchanges.clear()

    for account in ("21500", DEFERRED):
        await ns.adapter.list_ledger_entries(
            company, day.replace(day=1), day, account_number=account, currency="USD"
        )

    # The payable account's read lists journal entries only; deferred revenue's, invoices too.
    assert len(ns.requests("GET", "/invoice")) == 1
