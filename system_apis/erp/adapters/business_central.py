"""`ErpPort` over the Dynamics 365 Business Central API v1.0.

The client's base URL is the API root
(`https://api.businesscentral.dynamics.com/v2.0/{environment}/api/v1.0`). Every
body BC sends back is validated into a `Bc...` wire model; anything else is a
`BackendContractError`. BC refusals keep BC's error code (`vendor_code`) and message.

Idempotency comes from reading before writing, never from blind retries: BC does
not deduplicate sales invoices by external document number, so a create whose
answer was lost must not be re-sent by the HTTP client. Instead every write is
preceded by a lookup, and a caller that retries the whole method resumes where
the last attempt stopped (a draft without all its lines is completed, a posted
document is left alone). Creates and the post action are therefore sent without
automatic retries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date
from typing import TypeVar

from pydantic import BaseModel

from system_apis.erp.adapters.business_central_base import decode_bc_error, odata_query
from system_apis.erp.adapters.business_central_bulk import (
    EXPAND_LINES,
    BusinessCentralBulkInvoices,
)
from system_apis.erp.adapters.business_central_wire import (
    BcCompany,
    BcCurrencyList,
    BcCustomer,
    BcCustomerBlock,
    BcCustomerPayment,
    BcCustomerPaymentList,
    BcGeneralLedgerEntry,
    BcGeneralLedgerEntryList,
    BcItemList,
    BcJournal,
    BcJournalLine,
    BcJournalLineList,
    BcJournalList,
    BcModel,
    BcPage,
    BcRequest,
    BcSalesCreditMemo,
    BcSalesCreditMemoList,
    BcSalesDocumentLine,
    BcSalesInvoice,
    BcSalesInvoiceList,
    BcTaxGroupList,
)
from system_apis.erp.mapping import (
    company_from_bc,
    currency_from_bc,
    customer_changes,
    customer_from_bc,
    customer_payment_from_bc,
    customer_payment_reversal_to_bc,
    customer_payment_to_bc,
    customer_to_bc,
    dated_between,
    item_from_bc,
    journal_changes,
    journal_entry_from_bc,
    journal_from_bc,
    journal_line_changes,
    journal_line_to_bc,
    journal_lines_match,
    journal_to_bc,
    ledger_entry_from_bc,
    missing_lines,
    odata_eq,
    posted_between,
    sales_credit_memo_from_bc,
    sales_credit_memo_header_changes,
    sales_credit_memo_with_lines_to_bc,
    sales_invoice_from_bc,
    sales_invoice_header_changes,
    sales_invoice_with_lines_to_bc,
    sales_line_to_bc,
)
from system_apis.erp.schemas import (
    ErpCompany,
    ErpCreditMemoApplication,
    ErpCreditMemoApplicationCreate,
    ErpCurrency,
    ErpCustomer,
    ErpCustomerPayment,
    ErpCustomerPaymentCreate,
    ErpCustomerPaymentReversal,
    ErpCustomerStanding,
    ErpCustomerUpsert,
    ErpInvoiceLine,
    ErpItem,
    ErpJournal,
    ErpJournalCreate,
    ErpJournalEntry,
    ErpJournalEntryCreate,
    ErpLedgerEntry,
    ErpSalesCreditMemo,
    ErpSalesCreditMemoCreate,
    ErpSalesInvoice,
    ErpSalesInvoiceCreate,
)
from system_apis.errors import (
    BackendBusinessError,
    BackendNotFound,
)

__all__ = ["BusinessCentralAdapter", "decode_bc_error"]

M = TypeVar("M", bound=BcModel)
W = TypeVar("W", bound=BcModel)
T = TypeVar("T")
C = TypeVar("C", bound=BaseModel)

EXPAND_MEMO_LINES = "salesCreditMemoLines"
SAME_KEY_EXISTS = "Internal_EntityWithSameKeyExists"


# BC's customerBlocked values: `All` takes no documents at all, ` ` is not blocked.
BC_BLOCKED_ALL = "All"
BC_NOT_BLOCKED = " "


class BusinessCentralAdapter(BusinessCentralBulkInvoices):
    """Business Central implementation of `ErpPort`; wire mapping only, no business rules."""

    async def get_company(self, company_id: str) -> ErpCompany:
        operation = "get_company"
        response = await self._send("GET", f"/companies({company_id})", operation=operation)
        return company_from_bc(self._parse(response, BcCompany, operation))

    async def list_tax_codes(self, company_id: str) -> frozenset[str]:
        operation = "list_tax_codes"
        response = await self._send(
            "GET", f"/companies({company_id})/taxGroups", operation=operation
        )
        groups = self._parse(response, BcTaxGroupList, operation)
        return frozenset(group.code for group in groups.value)

    async def upsert_customer(self, company_id: str, customer: ErpCustomerUpsert) -> ErpCustomer:
        """Create the customer, or bring the one with its number up to date.

        Two postings for one new customer may both find no customer and both create
        it: BC refuses the second create (the number is taken), which then carries on
        with the customer the first one made.
        """
        operation = "upsert_customer"
        customers = f"/companies({company_id})/customers"
        current = await self._find_customer(customers, customer.number, operation)
        if current is None:
            try:
                response = await self._send(
                    "POST", customers, operation=operation, body=customer_to_bc(customer)
                )
                return customer_from_bc(self._parse(response, BcCustomer, operation))
            except BackendBusinessError as refused:
                if refused.vendor_code != SAME_KEY_EXISTS:
                    raise
                current = await self._find_customer(customers, customer.number, operation)
                if current is None:
                    raise
        changes = customer_changes(current, customer)
        if changes is None:
            return customer_from_bc(current)
        response = await self._send(
            "PATCH",
            f"{customers}({current.id})",
            operation=operation,
            body=changes,
            headers={"If-Match": current.etag},
        )
        return customer_from_bc(self._parse(response, BcCustomer, operation))

    async def set_customer_blocked(
        self, company_id: str, number: str, *, blocked: bool
    ) -> ErpCustomerStanding:
        """`blocked` `All` (no documents of any kind) or back to ` ` (not blocked), by a
        PATCH with the customer's current ETag. Only a block of `All` is lifted: a `Ship` or
        `Invoice` block someone set in the ERP is left alone."""
        operation = "set_customer_blocked"
        customers = f"/companies({company_id})/customers"
        current = await self._find_customer(customers, number, operation)
        if current is None:
            raise BackendNotFound(
                f"{self._client.backend} has no customer {number!r}",
                backend=self._client.backend,
                operation=operation,
            )
        wanted = BC_BLOCKED_ALL if blocked else BC_NOT_BLOCKED
        if (current.blocked == BC_BLOCKED_ALL) != blocked:
            response = await self._send(
                "PATCH",
                f"{customers}({current.id})",
                operation=operation,
                body=BcCustomerBlock(blocked=wanted),
                headers={"If-Match": current.etag},
            )
            current = self._parse(response, BcCustomer, operation)
        return ErpCustomerStanding(
            id=current.id, number=current.number, blocked=current.blocked == BC_BLOCKED_ALL
        )

    async def find_sales_invoice(
        self, company_id: str, external_document_number: str
    ) -> ErpSalesInvoice | None:
        operation = "find_sales_invoice"
        found = await self._find_sales_invoice(company_id, external_document_number, operation)
        return None if found is None else self._canonical_invoice(found, operation)

    async def create_sales_invoice(
        self, company_id: str, invoice: ErpSalesInvoiceCreate, *, known_absent: bool = False
    ) -> ErpSalesInvoice:
        """Create the draft with every line in one deep insert (BC creates all of it or
        none), or complete the one that exists.

        A document that is no longer a draft is returned as it is: it was created and
        posted by an earlier attempt. A draft created here is described by BC's answer to
        the insert (its lines are the ones sent when the answer leaves them out: the insert
        created all or none); one completed here is read back.
        """
        operation = "create_sales_invoice"
        invoices = f"/companies({company_id})/salesInvoices"
        accounts = await self._line_accounts(company_id, invoice.lines, operation)
        current = (
            None
            if known_absent
            else await self._find_sales_invoice(
                company_id, invoice.external_document_number, operation
            )
        )
        if current is None:
            body = sales_invoice_with_lines_to_bc(invoice, accounts)
            answer = (BcSalesInvoice, "sales_invoice_lines")
            sent = len(invoice.lines)
            return await self._inserted(
                invoices, body, answer, sent, self._canonical_invoice, operation
            )
        if current.status != "Draft":
            return self._canonical_invoice(current, operation)
        await self._complete_draft(
            f"{invoices}({current.id})",
            etag=current.etag,
            changes=sales_invoice_header_changes(current, invoice),
            lines_segment="salesInvoiceLines",
            missing=missing_lines(current.sales_invoice_lines, invoice.lines),
            currency=invoice.currency,
            accounts=accounts,
            operation=operation,
        )
        return self._canonical_invoice(
            await self._get_sales_invoice(company_id, current.id, operation), operation
        )

    async def post_sales_invoice(
        self, company_id: str, invoice_id: str, *, known_draft: bool = False
    ) -> ErpSalesInvoice:
        """Post a draft; a document that is already posted is returned unchanged. The post
        and the read of the posted document (its number) are one round trip."""
        operation = "post_sales_invoice"
        current = (
            None
            if known_draft
            else await self._get_sales_invoice(company_id, invoice_id, operation)
        )
        if current is None or current.status == "Draft":
            document = f"/companies({company_id})/salesInvoices({invoice_id})"
            current = await self._post_and_read(
                document,
                f"{document}?{odata_query(expand=EXPAND_LINES)}",
                BcSalesInvoice,
                operation,
            )
        return self._canonical_invoice(current, operation)

    async def delete_sales_invoice_draft(self, company_id: str, invoice_id: str) -> None:
        """`DELETE salesInvoices({id})`: BC deletes a draft and refuses a posted invoice."""
        await self._send(
            "DELETE",
            f"/companies({company_id})/salesInvoices({invoice_id})",
            operation="delete_sales_invoice_draft",
            headers={"If-Match": "*"},
        )

    async def get_sales_invoice(self, company_id: str, invoice_id: str) -> ErpSalesInvoice:
        operation = "get_sales_invoice"
        current = await self._get_sales_invoice(company_id, invoice_id, operation)
        return self._canonical_invoice(current, operation)

    async def find_sales_invoice_by_number(
        self, company_id: str, number: str
    ) -> ErpSalesInvoice | None:
        operation = "find_sales_invoice_by_number"
        found = await self._find_invoice_where(company_id, "number", number, operation)
        return None if found is None else self._canonical_invoice(found, operation)

    async def list_sales_invoices(
        self, company_id: str, posted_from: date, posted_to: date
    ) -> tuple[ErpSalesInvoice, ...]:
        operation = "list_sales_invoices"
        invoices = await self._list(
            f"/companies({company_id})/salesInvoices",
            BcSalesInvoiceList,
            operation,
            filter=posted_between("invoiceDate", posted_from, posted_to),
            expand=EXPAND_LINES,
        )
        return tuple(self._canonical_invoice(invoice, operation) for invoice in invoices)

    async def list_sales_credit_memos(
        self, company_id: str, posted_from: date, posted_to: date
    ) -> tuple[ErpSalesCreditMemo, ...]:
        operation = "list_sales_credit_memos"
        memos = await self._list(
            f"/companies({company_id})/salesCreditMemos",
            BcSalesCreditMemoList,
            operation,
            filter=posted_between("creditMemoDate", posted_from, posted_to),
            expand=EXPAND_MEMO_LINES,
        )
        return tuple(self._canonical_memo(memo, operation) for memo in memos)

    async def list_ledger_entries(
        self,
        company_id: str,
        posted_from: date,
        posted_to: date,
        *,
        account_number: str,
        currency: str,
    ) -> tuple[ErpLedgerEntry, ...]:
        operation = "list_ledger_entries"
        period = dated_between("postingDate", posted_from, posted_to)
        entries = await self._list(
            f"/companies({company_id})/generalLedgerEntries",
            BcGeneralLedgerEntryList,
            operation,
            filter=f"{odata_eq('accountNumber', account_number)} and {period}",
        )
        return tuple(
            self._mapped(operation, ledger_entry_from_bc, entry, currency) for entry in entries
        )

    async def stream_sales_invoices(
        self, company_id: str, posted_from: date, posted_to: date
    ) -> AsyncIterator[ErpSalesInvoice]:
        operation = "stream_sales_invoices"
        async for invoice in self._pages(
            f"/companies({company_id})/salesInvoices",
            BcSalesInvoiceList,
            operation,
            filter=posted_between("invoiceDate", posted_from, posted_to),
            expand=EXPAND_LINES,
        ):
            yield self._canonical_invoice(invoice, operation)

    async def stream_sales_credit_memos(
        self, company_id: str, posted_from: date, posted_to: date
    ) -> AsyncIterator[ErpSalesCreditMemo]:
        operation = "stream_sales_credit_memos"
        async for memo in self._pages(
            f"/companies({company_id})/salesCreditMemos",
            BcSalesCreditMemoList,
            operation,
            filter=posted_between("creditMemoDate", posted_from, posted_to),
            expand=EXPAND_MEMO_LINES,
        ):
            yield self._canonical_memo(memo, operation)

    async def stream_customer_payments(
        self,
        company_id: str,
        journal_code: str,
        posted_from: date,
        posted_to: date,
        *,
        currency: str,
    ) -> AsyncIterator[ErpCustomerPayment]:
        operation = "stream_customer_payments"
        journals = f"/companies({company_id})/customerPaymentJournals"
        query = odata_query(filter=odata_eq("code", journal_code))
        response = await self._send("GET", f"{journals}?{query}", operation=operation)
        found = self._parse(response, BcJournalList, operation).value
        journal = self._unique(found, f"journals with code {journal_code!r}", operation)
        if journal is None:
            return
        async for payment in self._pages(
            f"{journals}({journal.id})/customerPayments",
            BcCustomerPaymentList,
            operation,
            filter=dated_between("postingDate", posted_from, posted_to),
        ):
            yield self._mapped(operation, customer_payment_from_bc, payment, journal.id, currency)

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
        period = dated_between("postingDate", posted_from, posted_to)
        async for entry in self._pages(
            f"/companies({company_id})/generalLedgerEntries",
            BcGeneralLedgerEntryList,
            operation,
            filter=f"{odata_eq('accountNumber', account_number)} and {period}",
        ):
            yield self._mapped(operation, ledger_entry_from_bc, entry, currency)

    async def stream_items(self, company_id: str, *, currency: str) -> AsyncIterator[ErpItem]:
        operation = "stream_items"
        async for item in self._pages(f"/companies({company_id})/items", BcItemList, operation):
            yield self._mapped(operation, item_from_bc, item, currency)

    async def list_currencies(self, company_id: str) -> tuple[ErpCurrency, ...]:
        operation = "list_currencies"
        response = await self._send(
            "GET", f"/companies({company_id})/currencies", operation=operation
        )
        currencies = self._parse(response, BcCurrencyList, operation).value
        return tuple(currency_from_bc(currency) for currency in currencies)

    async def find_sales_credit_memo(
        self, company_id: str, external_document_number: str
    ) -> ErpSalesCreditMemo | None:
        operation = "find_sales_credit_memo"
        found = await self._find_credit_memo(company_id, external_document_number, operation)
        return None if found is None else self._canonical_memo(found, operation)

    async def create_sales_credit_memo(
        self, company_id: str, credit_memo: ErpSalesCreditMemoCreate
    ) -> ErpSalesCreditMemo:
        """Create the draft with every line in one deep insert, or complete the one that
        exists (as `create_sales_invoice` does an invoice's)."""
        operation = "create_sales_credit_memo"
        memos = f"/companies({company_id})/salesCreditMemos"
        accounts = await self._line_accounts(company_id, credit_memo.lines, operation)
        current = await self._find_credit_memo(
            company_id, credit_memo.external_document_number, operation
        )
        if current is None:
            body = sales_credit_memo_with_lines_to_bc(credit_memo, accounts)
            answer = (BcSalesCreditMemo, "sales_credit_memo_lines")
            sent = len(credit_memo.lines)
            return await self._inserted(memos, body, answer, sent, self._canonical_memo, operation)
        if current.status != "Draft":
            return self._canonical_memo(current, operation)
        await self._complete_draft(
            f"{memos}({current.id})",
            etag=current.etag,
            changes=sales_credit_memo_header_changes(current, credit_memo),
            lines_segment="salesCreditMemoLines",
            missing=missing_lines(current.sales_credit_memo_lines, credit_memo.lines),
            currency=credit_memo.currency,
            accounts=accounts,
            operation=operation,
        )
        current = await self._get_credit_memo(company_id, current.id, operation)
        return self._canonical_memo(current, operation)

    async def post_sales_credit_memo(
        self, company_id: str, credit_memo_id: str
    ) -> ErpSalesCreditMemo:
        """Post a draft (BC applies it to its invoice); a posted memo is returned unchanged.
        The post and the read of the posted memo are one round trip."""
        operation = "post_sales_credit_memo"
        current = await self._get_credit_memo(company_id, credit_memo_id, operation)
        if current.status == "Draft":
            memo = f"/companies({company_id})/salesCreditMemos({credit_memo_id})"
            current = await self._post_and_read(
                memo,
                f"{memo}?{odata_query(expand=EXPAND_MEMO_LINES)}",
                BcSalesCreditMemo,
                operation,
            )
        return self._canonical_memo(current, operation)

    async def delete_sales_credit_memo_draft(self, company_id: str, credit_memo_id: str) -> None:
        """`DELETE salesCreditMemos({id})`: BC deletes a draft and refuses a posted memo."""
        await self._send(
            "DELETE",
            f"/companies({company_id})/salesCreditMemos({credit_memo_id})",
            operation="delete_sales_credit_memo_draft",
            headers={"If-Match": "*"},
        )

    async def apply_sales_credit_memo(
        self,
        company_id: str,  # noqa: ARG002 (refused before any company is addressed)
        application: ErpCreditMemoApplicationCreate,
    ) -> ErpCreditMemoApplication:
        """Refused: BC's API applies a credit memo only to the invoice it names when posted
        (`invoiceId`); a posted memo's open entry is applied in BC itself (Apply Entries)."""
        raise BackendBusinessError(
            f"{self._client.backend} cannot apply posted credit memo "
            f"{application.credit_memo_id} to invoice {application.invoice_id} through its "
            "API: apply the memo's entry to the invoice in Business Central (Apply Entries)",
            backend=self._client.backend,
            operation="apply_sales_credit_memo",
            vendor_code="credit-application-unsupported",
        )

    async def ensure_journal(self, company_id: str, journal: ErpJournalCreate) -> ErpJournal:
        return await self._ensure_journal(
            f"/companies({company_id})/journals", journal, "ensure_journal"
        )

    async def add_journal_entry(
        self, company_id: str, journal_id: str, entry: ErpJournalEntryCreate
    ) -> ErpJournalEntry:
        """Add the entry's lines the journal lacks; an entry in the ledger is left alone.

        BC numbers journal lines per batch, not per document, so the entry's lines are
        matched by position among the journal's lines with the same document number: an
        interrupted attempt leaves a prefix of them, and only the rest are added.
        """
        operation = "add_journal_entry"
        document = entry.document_number
        ledger = await self._ledger_entries(company_id, document, operation)
        if ledger:
            return self._mapped(
                operation,
                journal_entry_from_bc,
                journal_id,
                document,
                entry.currency,
                lines=[],
                ledger=ledger,
            )
        lines_url = f"/companies({company_id})/journals({journal_id})/journalLines"
        present = await self._journal_lines(company_id, journal_id, document, operation)
        if not self._mapped(operation, journal_lines_match, present, entry):
            raise BackendBusinessError(
                f"{self._client.backend} journal {journal_id} holds lines for document "
                f"{document!r} that differ from the entry; they must be removed by hand",
                backend=self._client.backend,
                operation=operation,
            )
        for existing in present:
            if (changes := journal_line_changes(existing, entry)) is not None:
                await self._send(
                    "PATCH",
                    f"{lines_url}({existing.id})",
                    operation=operation,
                    body=changes,
                    headers={"If-Match": existing.etag},
                )
        for line in entry.lines[len(present) :]:
            await self._send(
                "POST", lines_url, operation=operation, body=journal_line_to_bc(line, entry)
            )
        present = await self._journal_lines(company_id, journal_id, document, operation)
        return self._mapped(
            operation,
            journal_entry_from_bc,
            journal_id,
            document,
            entry.currency,
            lines=present,
            ledger=[],
        )

    async def post_journal_entry(
        self, company_id: str, journal_id: str, document_number: str, currency: str
    ) -> ErpJournalEntry:
        """Post the journal unless the ledger already holds the document's entries; the post
        and the read of the ledger are one round trip."""
        operation = "post_journal_entry"
        ledger = await self._ledger_entries(company_id, document_number, operation)
        lines: list[BcJournalLine] = []
        if not ledger:
            posted = await self._post_and_read(
                f"/companies({company_id})/journals({journal_id})",
                self._ledger_url(company_id, document_number),
                BcGeneralLedgerEntryList,
                operation,
            )
            ledger = posted.value
            if not ledger:
                lines = await self._journal_lines(
                    company_id, journal_id, document_number, operation
                )
        return self._mapped(
            operation,
            journal_entry_from_bc,
            journal_id,
            document_number,
            currency,
            lines=lines,
            ledger=ledger,
        )

    async def ensure_customer_payment_journal(
        self, company_id: str, journal: ErpJournalCreate
    ) -> ErpJournal:
        return await self._ensure_journal(
            f"/companies({company_id})/customerPaymentJournals",
            journal,
            "ensure_customer_payment_journal",
        )

    async def apply_customer_payment(
        self, company_id: str, journal_id: str, payment: ErpCustomerPaymentCreate
    ) -> ErpCustomerPayment:
        """Create the payment line applied to its invoice, unless the journal has it already."""
        return await self._payment_line(
            company_id,
            journal_id,
            payment.external_document_number,
            customer_payment_to_bc(payment),
            currency=payment.currency,
            operation="apply_customer_payment",
        )

    async def reverse_customer_payment(
        self, company_id: str, journal_id: str, reversal: ErpCustomerPaymentReversal
    ) -> ErpCustomerPayment:
        """Create the reversing line (the opposite sign, applied to the same invoice), unless
        the journal has it already: BC un-applies that much and the invoice owes it again."""
        return await self._payment_line(
            company_id,
            journal_id,
            reversal.external_document_number,
            customer_payment_reversal_to_bc(reversal),
            currency=reversal.currency,
            operation="reverse_customer_payment",
        )

    async def _payment_line(
        self,
        company_id: str,
        journal_id: str,
        external: str,
        body: BcRequest,
        *,
        currency: str,
        operation: str,
    ) -> ErpCustomerPayment:
        """The payment journal's line with this external document number, created if absent."""
        payments = (
            f"/companies({company_id})/customerPaymentJournals({journal_id})/customerPayments"
        )
        current = await self._find_one(
            payments,
            BcCustomerPaymentList,
            "customer payments",
            ("externalDocumentNumber", external),
            operation,
        )
        if current is None:
            response = await self._send("POST", payments, operation=operation, body=body)
            current = self._parse(response, BcCustomerPayment, operation)
        return self._mapped(operation, customer_payment_from_bc, current, journal_id, currency)

    async def _list(
        self, url: str, model: type[BcPage[W]], operation: str, **options: str
    ) -> list[W]:
        """Every record of a filtered list."""
        return [record async for record in self._pages(url, model, operation, **options)]

    async def _pages(
        self, url: str, model: type[BcPage[W]], operation: str, **options: str
    ) -> AsyncIterator[W]:
        """The records of a filtered list, paged with `$top`/`$skip` until a page is short."""
        read = 0
        while True:
            query = odata_query(**options, top=str(self._page_size), skip=str(read))
            response = await self._send("GET", f"{url}?{query}", operation=operation)
            page = self._parse(response, model, operation).value
            for record in page:
                yield record
            read += len(page)
            if len(page) < self._page_size:
                return

    async def _find_sales_invoice(
        self, company_id: str, external_document_number: str, operation: str
    ) -> BcSalesInvoice | None:
        return await self._find_invoice_where(
            company_id, "externalDocumentNumber", external_document_number, operation
        )

    async def _find_invoice_where(
        self, company_id: str, field: str, value: str, operation: str
    ) -> BcSalesInvoice | None:
        return await self._find_one(
            f"/companies({company_id})/salesInvoices",
            BcSalesInvoiceList,
            "sales invoices",
            (field, value),
            operation,
            expand=EXPAND_LINES,
        )

    async def _get_sales_invoice(
        self, company_id: str, invoice_id: str, operation: str
    ) -> BcSalesInvoice:
        response = await self._send(
            "GET",
            f"/companies({company_id})/salesInvoices({invoice_id})?{odata_query(expand=EXPAND_LINES)}",
            operation=operation,
        )
        return self._parse(response, BcSalesInvoice, operation)

    async def _find_credit_memo(
        self, company_id: str, external_document_number: str, operation: str
    ) -> BcSalesCreditMemo | None:
        return await self._find_one(
            f"/companies({company_id})/salesCreditMemos",
            BcSalesCreditMemoList,
            "sales credit memos",
            ("externalDocumentNumber", external_document_number),
            operation,
            expand=EXPAND_MEMO_LINES,
        )

    async def _get_credit_memo(
        self, company_id: str, credit_memo_id: str, operation: str
    ) -> BcSalesCreditMemo:
        query = odata_query(expand=EXPAND_MEMO_LINES)
        response = await self._send(
            "GET",
            f"/companies({company_id})/salesCreditMemos({credit_memo_id})?{query}",
            operation=operation,
        )
        return self._parse(response, BcSalesCreditMemo, operation)

    async def _ensure_journal(
        self, journals: str, journal: ErpJournalCreate, operation: str
    ) -> ErpJournal:
        """Find the batch by code; create it, or PATCH it to match `journal`."""
        query = odata_query(filter=odata_eq("code", journal.code))
        response = await self._send("GET", f"{journals}?{query}", operation=operation)
        found = self._parse(response, BcJournalList, operation).value
        current = self._unique(found, f"journals with code {journal.code!r}", operation)
        if current is None:
            response = await self._send(
                "POST", journals, operation=operation, body=journal_to_bc(journal)
            )
            return journal_from_bc(self._parse(response, BcJournal, operation))
        changes = journal_changes(current, journal)
        if changes is None:
            return journal_from_bc(current)
        response = await self._send(
            "PATCH",
            f"{journals}({current.id})",
            operation=operation,
            body=changes,
            headers={"If-Match": current.etag},
        )
        return journal_from_bc(self._parse(response, BcJournal, operation))

    async def _journal_lines(
        self, company_id: str, journal_id: str, document_number: str, operation: str
    ) -> list[BcJournalLine]:
        query = odata_query(filter=odata_eq("documentNumber", document_number))
        response = await self._send(
            "GET",
            f"/companies({company_id})/journals({journal_id})/journalLines?{query}",
            operation=operation,
        )
        lines = self._parse(response, BcJournalLineList, operation).value
        return sorted(lines, key=lambda line: line.line_number)

    async def _ledger_entries(
        self, company_id: str, document_number: str, operation: str
    ) -> list[BcGeneralLedgerEntry]:
        response = await self._send(
            "GET", self._ledger_url(company_id, document_number), operation=operation
        )
        return self._parse(response, BcGeneralLedgerEntryList, operation).value

    @staticmethod
    def _ledger_url(company_id: str, document_number: str) -> str:
        query = odata_query(filter=odata_eq("documentNumber", document_number))
        return f"/companies({company_id})/generalLedgerEntries?{query}"

    async def _complete_draft(
        self,
        document: str,
        *,
        etag: str,
        changes: BcRequest | None,
        lines_segment: str,
        missing: list[ErpInvoiceLine],
        currency: str,
        accounts: dict[str, str],
        operation: str,
    ) -> list[BcSalesDocumentLine]:
        """Bring a draft up to the request: its changed header fields, then its missing lines.

        Both are idempotent on retry: the header is patched only where it differs, and a
        line is added only when no line with its sequence number exists yet. Returns the
        lines added, as BC answered them.
        """
        if changes is not None:
            await self._send(
                "PATCH", document, operation=operation, body=changes, headers={"If-Match": etag}
            )
        added = []
        for line in missing:
            response = await self._send(
                "POST",
                f"{document}/{lines_segment}",
                operation=operation,
                body=sales_line_to_bc(line, currency, accounts),
            )
            added.append(self._parse(response, BcSalesDocumentLine, operation))
        return added

    async def _inserted(
        self,
        url: str,
        body: BcRequest,
        answer: tuple[type[M], str],
        sent: int,
        canonical: Callable[[M, str], C],
        operation: str,
    ) -> C:
        """POST a new document with its `sent` lines in one deep insert and describe what BC
        created (`answer`: its wire model and the property of its lines): with the lines BC
        answered, or with as many as were sent when it answered the header alone (the
        insert created all or none)."""
        wire, lines = answer
        response = await self._send("POST", url, operation=operation, body=body)
        created = self._parse(response, wire, operation)
        if getattr(created, lines) is not None:
            return canonical(created, operation)
        header = canonical(created.model_copy(update={lines: []}), operation)
        return header.model_copy(update={"line_count": sent})

    async def _line_accounts(
        self, company_id: str, lines: Sequence[ErpInvoiceLine], operation: str
    ) -> dict[str, str]:
        return await self._account_ids(
            company_id, (line.account_number for line in lines), operation
        )

    def _canonical_invoice(self, invoice: BcSalesInvoice, operation: str) -> ErpSalesInvoice:
        return self._mapped(operation, sales_invoice_from_bc, invoice)

    def _canonical_memo(self, memo: BcSalesCreditMemo, operation: str) -> ErpSalesCreditMemo:
        return self._mapped(operation, sales_credit_memo_from_bc, memo)
