"""NetSuite's returned-payment procedure, in the adapter and the sandbox: a journal entry
debiting A/R for the customer and crediting the bank, the payment re-applied to it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sandboxes.demo_estate import first_open_day
from sandboxes.netsuite import create_app
from system_apis.erp.schemas import ErpCustomerPayment, ErpCustomerUpsert
from system_apis.errors import BackendBusinessError, BackendTransientError
from tests.support.business_central import DE, PAYMENTS, invoice_request, payment_request
from tests.system_apis.erp.harness import NS_BASE_URL, NsHarness
from tests.system_apis.erp.test_port_reversals import reversal_of

OTHER = ErpCustomerUpsert(number="C0002", display_name="Globex", currency="USD")


@pytest.fixture
async def http(ns: NsHarness) -> AsyncIterator[httpx.AsyncClient]:
    """Raw requests to the same sandbox the adapter writes to."""
    transport = httpx.ASGITransport(app=create_app(ns.state))
    async with httpx.AsyncClient(transport=transport, base_url=NS_BASE_URL) as client:
        yield client


async def paid_invoice(ns: NsHarness, number: str, amount: int) -> ErpCustomerPayment:
    subsidiary = ns.us_subsidiary
    draft = await ns.adapter.create_sales_invoice(subsidiary, invoice_request(f"inv_{number}"))
    invoice = await ns.adapter.post_sales_invoice(subsidiary, draft.id)
    journal = await ns.adapter.ensure_customer_payment_journal(subsidiary, PAYMENTS)
    return await ns.adapter.apply_customer_payment(
        subsidiary, journal.id, payment_request(f"pay_{number}", invoice.id, amount)
    )


def account_id(ns: NsHarness, number: str) -> str:
    return next(a.id for a in ns.state.accounts.values() if a.acct_number == number)


async def test_a_returned_payment_debits_receivables_and_is_reapplied_to_the_entry(
    ns: NsHarness, http: httpx.AsyncClient
) -> None:
    paid = await paid_invoice(ns, "1", 14353)
    invoice_id = paid.applies_to_invoice_id or ""
    paid_in_full = (await http.get(f"/invoice/{invoice_id}")).json()["status"]["id"]
    ns.recording.exchanges.clear()

    booked = await ns.adapter.reverse_customer_payment(
        ns.us_subsidiary, paid.journal_id, reversal_of(paid, 14353)
    )

    (create,) = ns.requests("POST", "/journalEntry")
    customer = ns.state.customers[next(iter(ns.state.customers))]
    memo = f"Reversal of {paid.document_number}: cheque bounced"
    assert json.loads(create.content) == {
        "externalId": "pay_1-R",
        "tranId": "pay_1-R",
        "subsidiary": {"id": ns.us_subsidiary},
        "currency": {"id": "1"},
        "tranDate": first_open_day().isoformat(),
        "memo": memo,
        "approved": True,
        "line": {
            "items": [
                {
                    "account": {"id": account_id(ns, "11000")},
                    "entity": {"id": customer.id},
                    "debit": 143.53,
                    "memo": memo,
                },
                {"account": {"id": account_id(ns, "10100")}, "credit": 143.53, "memo": memo},
            ]
        },
    }
    (reapply,) = ns.requests("PATCH", f"/customerPayment/{paid.id}")
    assert json.loads(reapply.content) == {
        "apply": {
            "items": [
                {"doc": {"id": invoice_id}, "apply": False},
                {"doc": {"id": booked.id}, "apply": True, "amount": 143.53},
            ]
        }
    }
    assert (booked.document_number, ns.state.journal_entries[booked.id].approved) == (
        "pay_1-R",
        True,
    )
    assert ns.state.payments[paid.id].applied == {booked.id: Decimal("143.53")}
    read = (await http.get(f"/invoice/{invoice_id}")).json()
    assert (paid_in_full, read["status"]["id"], read["amountRemaining"]) == (
        "paidInFull",
        "open",
        143.53,
    )
    [original] = [
        p
        async for p in ns.adapter.stream_customer_payments(
            ns.us_subsidiary, PAYMENTS.code, paid.posting_date, paid.posting_date, currency="USD"
        )
        if p.id == paid.id
    ]
    assert (original.amount, original.applies_to_invoice_id) == (14353, None)


@pytest.mark.parametrize("after_forwarding", [True, False], ids=["answer-lost", "not-sent"])
async def test_an_interrupted_reapplication_is_finished_by_the_repeat(
    ns: NsHarness, after_forwarding: bool
) -> None:
    paid = await paid_invoice(ns, "2", 14353)
    ns.faults.matches = lambda r: r.method == "PATCH" and "/customerPayment/" in r.url.path
    ns.faults.after_forwarding = after_forwarding

    with pytest.raises(BackendTransientError):
        await ns.adapter.reverse_customer_payment(
            ns.us_subsidiary, paid.journal_id, reversal_of(paid, 14353)
        )
    booked = await ns.adapter.reverse_customer_payment(
        ns.us_subsidiary, paid.journal_id, reversal_of(paid, 14353)
    )

    assert ns.state.journal_entry_count("pay_2-R") == 1
    assert len(ns.requests("PATCH", f"/customerPayment/{paid.id}")) == 1
    assert ns.state.payments[paid.id].applied == {booked.id: Decimal("143.53")}
    invoice = await ns.adapter.get_sales_invoice(
        ns.us_subsidiary, booked.applies_to_invoice_id or ""
    )
    assert invoice.remaining_amount == 14353


async def test_a_partial_reversal_leaves_the_rest_applied_to_the_invoice(ns: NsHarness) -> None:
    paid = await paid_invoice(ns, "3", 5000)

    booked = await ns.adapter.reverse_customer_payment(
        ns.us_subsidiary, paid.journal_id, reversal_of(paid, 2000)
    )

    invoice_id = paid.applies_to_invoice_id or ""
    assert ns.state.payments[paid.id].applied == {invoice_id: 30, booked.id: 20}
    invoice = await ns.adapter.get_sales_invoice(ns.us_subsidiary, invoice_id)
    assert invoice.remaining_amount == 14353 - 3000


async def test_a_payment_netsuite_does_not_hold_is_not_reversed(ns: NsHarness) -> None:
    paid = await paid_invoice(ns, "4", 5000)
    unknown = reversal_of(paid, 5000).model_copy(update={"reverses_document_number": "PYMT9"})

    with pytest.raises(BackendBusinessError, match="no customer payment 'PYMT9'"):
        await ns.adapter.reverse_customer_payment(ns.us_subsidiary, paid.journal_id, unknown)

    assert ns.state.journal_entry_count("pay_4-R") == 0


async def receivable_entry(
    http: httpx.AsyncClient, ns: NsHarness, number: str, customer: str, amount: float
) -> httpx.Response:
    """A posted entry debiting A/R for `customer` and crediting the bank."""
    return await http.post(
        "/journalEntry",
        json={
            "externalId": number,
            "subsidiary": {"id": ns.us_subsidiary},
            "currency": {"id": "1"},
            "line": {
                "items": [
                    {
                        "account": {"id": account_id(ns, "11000")},
                        "entity": {"id": customer},
                        "debit": amount,
                    },
                    {"account": {"id": account_id(ns, "10100")}, "credit": amount},
                ]
            },
        },
    )


def apply_body(*lines: tuple[str, bool, float | None]) -> dict[str, Any]:
    return {
        "apply": {
            "items": [
                {"doc": {"id": doc}, "apply": apply}
                | ({} if amount is None else {"amount": amount})
                for doc, apply, amount in lines
            ]
        }
    }


async def test_sandbox_refuses_reapplications_netsuite_refuses(
    ns: NsHarness, http: httpx.AsyncClient
) -> None:
    paid = await paid_invoice(ns, "5", 5000)
    invoice = paid.applies_to_invoice_id or ""
    mine = ns.state.customers[next(iter(ns.state.customers))].id
    other = (await ns.adapter.upsert_customer(ns.us_subsidiary, OTHER)).id
    ours = (await receivable_entry(http, ns, "JE-A", mine, 50)).headers["Location"]
    theirs = (await receivable_entry(http, ns, "JE-B", other, 50)).headers["Location"]
    ours, theirs = ours.rsplit("/", 1)[1], theirs.rsplit("/", 1)[1]
    url = f"/customerPayment/{paid.id}"

    refusals = [
        await http.patch(url, json=apply_body((invoice, False, None), (theirs, True, 50))),
        await http.patch(url, json=apply_body((invoice, False, None), (ours, True, 50.01))),
        await http.patch(url, json=apply_body((ours, True, 50))),  # still on the invoice
        await http.patch(url, json=apply_body((invoice, True, 143.54))),
    ]

    assert [(r.status_code, r.json()["o:errorDetails"][0]["o:errorCode"]) for r in refusals] == [
        (400, "INVALID_FLD_VALUE"),
        (400, "USER_ERROR"),
        (400, "USER_ERROR"),
        (400, "USER_ERROR"),
    ]
    assert "exceeds the amount due" in refusals[1].json()["o:errorDetails"][0]["detail"]
    assert "exceeds the amount of the payment" in refusals[2].json()["o:errorDetails"][0]["detail"]
    assert ns.state.payments[paid.id].applied == {invoice: 50}
    assert ns.state.invoices[invoice].paid == 50


async def test_sandbox_receivable_lines_name_a_customer_of_the_subsidiary(
    ns: NsHarness, http: httpx.AsyncClient
) -> None:
    german = await ns.adapter.upsert_customer(
        ns.state.subsidiary_id(DE),
        ErpCustomerUpsert(number="C0003", display_name="Initech GmbH", currency="EUR"),
    )
    no_customer = await http.post(
        "/journalEntry",
        json={
            "subsidiary": {"id": ns.us_subsidiary},
            "currency": {"id": "1"},
            "line": {
                "items": [
                    {"account": {"id": account_id(ns, "11000")}, "debit": 5},
                    {"account": {"id": account_id(ns, "10100")}, "credit": 5},
                ]
            },
        },
    )
    foreign = await receivable_entry(http, ns, "JE-C", german.id, 5)

    assert error_code(no_customer) == (
        "USER_ERROR",
        "Line 0 is on Accounts Receivable: enter a customer.",
    )
    assert error_code(foreign)[0] == "INVALID_KEY_OR_REF"
    assert ns.state.journal_entries == {}


def error_code(response: httpx.Response) -> tuple[str, str]:
    detail = response.json()["o:errorDetails"][0]
    return detail["o:errorCode"], detail["detail"]
