"""NetSuite's `ErpInvoiceQueries`, `ErpLedgerQueries` and `ErpDocumentStreams`: a period's
posted documents read back for reconciliation.

Each stream queries the record collection of the subsidiary's transactions dated in
the period (`q` with `subsidiary ANY_OF` and `tranDate ON_OR_AFTER` / `ON_OR_BEFORE`),
page by page (`offset`, `limit`, `hasMore`) in internal id order, so two reads of a
closed period yield the same documents in the same order; it reads each record as it
goes and holds one page of ids. Posted means approved for an invoice; a credit memo
and a customer payment post when saved. NetSuite has no payment journals: the payments
streamed are every customer payment of the subsidiary in the period, whatever the
`journal_code`, then each posted journal entry of the period that debits a customer's
A/R (a payment's reversing entry) as a payment of the opposite sign, keyed by its
external id; such an entry names no invoice. The ledger entries of an account are the
lines on it of the period's approved journal entries, then, for an income or deferred
revenue account, of its approved invoices (credits) and its credit memos (debits): the
gateway books its ledger accounts through
journal entries (settlement commissions, revenue recognition) and, for deferred revenue,
through the account of invoice and credit memo lines.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from urllib.parse import quote

from system_apis.erp.adapters.netsuite_reversals import NetSuiteReversals
from system_apis.erp.adapters.netsuite_wire import (
    APPROVED,
    SALES_ACCOUNT_TYPES,
    NsAccount,
    NsJournalEntry,
)
from system_apis.erp.netsuite_mapping import (
    document_ledger_entries,
    ledger_entries_from_ns,
    ns_any_of,
    ns_dated_between,
    ns_is,
)
from system_apis.erp.netsuite_reversal_mapping import receivable_customer
from system_apis.erp.schemas import (
    ErpCustomerPayment,
    ErpLedgerEntry,
    ErpSalesCreditMemo,
    ErpSalesInvoice,
)


class NetSuiteStreams(NetSuiteReversals):
    """Reading a period's posted documents and ledger entries back."""

    async def find_sales_invoice_by_number(
        self, company_id: str, number: str
    ) -> ErpSalesInvoice | None:
        operation = "find_sales_invoice_by_number"
        found = await self._unique_id(
            "invoice", operation, ns_is("tranId", number), ns_any_of("subsidiary", company_id)
        )
        if found is None:
            return None
        return await self._canonical(
            await self._get_invoice(company_id, found, operation), operation
        )

    async def list_sales_invoices(
        self, company_id: str, posted_from: date, posted_to: date
    ) -> tuple[ErpSalesInvoice, ...]:
        stream = self.stream_sales_invoices(company_id, posted_from, posted_to)
        return tuple([invoice async for invoice in stream])

    async def list_sales_credit_memos(
        self, company_id: str, posted_from: date, posted_to: date
    ) -> tuple[ErpSalesCreditMemo, ...]:
        stream = self.stream_sales_credit_memos(company_id, posted_from, posted_to)
        return tuple([memo async for memo in stream])

    async def list_ledger_entries(
        self,
        company_id: str,
        posted_from: date,
        posted_to: date,
        *,
        account_number: str,
        currency: str,
    ) -> tuple[ErpLedgerEntry, ...]:
        stream = self.stream_ledger_entries(
            company_id, posted_from, posted_to, account_number=account_number, currency=currency
        )
        return tuple([entry async for entry in stream])

    async def stream_sales_invoices(
        self, company_id: str, posted_from: date, posted_to: date
    ) -> AsyncIterator[ErpSalesInvoice]:
        operation = "stream_sales_invoices"
        async for invoice_id in self._dated_ids(
            "invoice",
            operation,
            company_id,
            (posted_from, posted_to),
            ns_any_of("approvalStatus", APPROVED),
        ):
            invoice = await self._get_invoice(company_id, invoice_id, operation)
            yield await self._canonical(invoice, operation)

    async def stream_sales_credit_memos(
        self, company_id: str, posted_from: date, posted_to: date
    ) -> AsyncIterator[ErpSalesCreditMemo]:
        operation = "stream_sales_credit_memos"
        period = (posted_from, posted_to)
        async for memo_id in self._dated_ids("creditMemo", operation, company_id, period):
            memo = await self._get_credit_memo(company_id, memo_id, operation)
            yield await self._canonical_memo(memo, operation)

    async def stream_customer_payments(
        self,
        company_id: str,
        journal_code: str,  # noqa: ARG002 (NetSuite has no payment journals)
        posted_from: date,
        posted_to: date,
        *,
        currency: str,  # noqa: ARG002 (a payment is read in its own currency)
    ) -> AsyncIterator[ErpCustomerPayment]:
        operation = "stream_customer_payments"
        period = (posted_from, posted_to)
        async for payment_id in self._dated_ids("customerPayment", operation, company_id, period):
            payment = await self._get_payment(company_id, payment_id, operation)
            yield await self._canonical_payment(payment, operation)
        async for entry in self._journal_entries(company_id, period, operation):
            if self._mapped(operation, receivable_customer, entry) is not None:
                yield await self._canonical_reversal(entry, None, operation)

    async def stream_ledger_entries(
        self,
        company_id: str,
        posted_from: date,
        posted_to: date,
        *,
        account_number: str,
        currency: str,
    ) -> AsyncIterator[ErpLedgerEntry]:
        operation = "stream_ledger_entries"
        account_id = await self._account_id(account_number, operation)
        if account_id is None:
            return
        numbers = {account_id: account_number}
        period = (posted_from, posted_to)
        async for entry in self._journal_entries(company_id, period, operation):
            for ledger in self._mapped(operation, ledger_entries_from_ns, entry, numbers, currency):
                yield ledger
        if not await self._sales_account(account_id, operation):
            return
        approved = ns_any_of("approvalStatus", APPROVED)
        async for invoice_id in self._dated_ids("invoice", operation, company_id, period, approved):
            invoice = await self._get_invoice(company_id, invoice_id, operation)
            for ledger in self._mapped(
                operation, document_ledger_entries, invoice, numbers, currency
            ):
                yield ledger
        async for memo_id in self._dated_ids("creditMemo", operation, company_id, period):
            memo = await self._get_credit_memo(company_id, memo_id, operation)
            for ledger in self._mapped(operation, document_ledger_entries, memo, numbers, currency):
                yield ledger

    async def _sales_account(self, account_id: str, operation: str) -> bool:
        """Whether sales lines can book the account (income or deferred revenue): the
        ledger of any other is read from journal entries alone."""
        response = await self._send(
            "GET", f"/account/{quote(account_id, safe='')}", operation=operation
        )
        kind = self._parse(response, NsAccount, operation).acct_type
        return kind is not None and kind.id in SALES_ACCOUNT_TYPES

    def _dated_ids(
        self,
        record_type: str,
        operation: str,
        company_id: str,
        period: tuple[date, date],
        *conditions: str,
    ) -> AsyncIterator[str]:
        """The ids of the subsidiary's `record_type` records dated in `period` (first and
        last day) that meet `conditions`."""
        return self._ids(
            record_type,
            operation,
            ns_any_of("subsidiary", company_id),
            *conditions,
            ns_dated_between("tranDate", *period),
        )

    async def _journal_entries(
        self, company_id: str, period: tuple[date, date], operation: str
    ) -> AsyncIterator[NsJournalEntry]:
        async for entry_id in self._dated_ids("journalEntry", operation, company_id, period):
            yield await self._get_journal_entry(company_id, entry_id, operation)
