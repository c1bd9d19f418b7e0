"""What the process tier may ask of any ERP, as small Protocols adapters implement.

Every adapter (Business Central, NetSuite) is a complete `ErpPort`, which
`tests/system_apis/erp/test_port_conformance.py` holds each adapter to. The composition
root routes each call to the connection of the legal entity whose company it names.
Workflows depend on the narrowest Protocol they use.

Every write is idempotent: creates are keyed by the caller's number (customer
number, external document number, journal code, journal document number) and
posting a posted document is a no-op.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date
from typing import Protocol, runtime_checkable

from system_apis.erp.schemas import (
    ErpCompany,
    ErpCreditMemoApplication,
    ErpCreditMemoApplicationCreate,
    ErpCurrency,
    ErpCustomer,
    ErpCustomerCredit,
    ErpCustomerPayment,
    ErpCustomerPaymentCreate,
    ErpCustomerPaymentReversal,
    ErpCustomerStanding,
    ErpCustomerUpsert,
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
    ErpSalesOrder,
    ErpSalesOrderCreate,
)
from system_apis.errors import BackendError


@runtime_checkable
class ErpInvoicing(Protocol):
    """Customers and sales invoices. `company_id` is the ERP's id of a legal entity."""

    async def upsert_customer(
        self, company_id: str, customer: ErpCustomerUpsert
    ) -> ErpCustomer: ...

    async def set_customer_blocked(
        self, company_id: str, number: str, *, blocked: bool
    ) -> ErpCustomerStanding:
        """Block the customer for new documents, or lift the block; setting what it is
        already changes nothing. An unknown customer number is a business error."""
        ...

    async def find_sales_invoice(
        self, company_id: str, external_document_number: str
    ) -> ErpSalesInvoice | None: ...

    async def get_sales_invoice(self, company_id: str, invoice_id: str) -> ErpSalesInvoice:
        """The document as the ERP holds it now: its status and remaining amount."""
        ...

    async def create_sales_invoice(
        self, company_id: str, invoice: ErpSalesInvoiceCreate, *, known_absent: bool = False
    ) -> ErpSalesInvoice:
        """Create the draft (header and every line), or complete the one that exists.

        `known_absent`: the caller knows no earlier attempt can have sent this document
        (its first attempt ever), so the lookup by external document number is skipped.
        """
        ...

    async def post_sales_invoice(
        self, company_id: str, invoice_id: str, *, known_draft: bool = False
    ) -> ErpSalesInvoice:
        """Post a draft; a posted document is returned unchanged.

        `known_draft`: the caller has just had the document as a draft (from
        `create_sales_invoice` in the same attempt), so it is not read before posting.
        """
        ...

    async def post_new_sales_invoice(
        self, company_id: str, invoice: ErpSalesInvoiceCreate
    ) -> ErpSalesInvoice:
        """Create and post a document no earlier attempt sent (the caller knows it absent)
        in as few requests as the ERP allows, as work a caller waits on; returns the posted
        document. An error it raises may leave the document created, or even posted: the
        retry looks it up by external number first."""
        ...

    async def delete_sales_invoice_draft(self, company_id: str, invoice_id: str) -> None:
        """Delete a draft (a draft is no accounting document); a posted one is refused
        (`BackendBusinessError`), and one already gone is `BackendNotFound`."""
        ...


@runtime_checkable
class ErpLedgerSetup(Protocol):
    """The legal entity and the reference data documents must agree with."""

    async def get_company(self, company_id: str) -> ErpCompany: ...

    async def list_tax_codes(self, company_id: str) -> frozenset[str]: ...

    async def list_currencies(self, company_id: str) -> tuple[ErpCurrency, ...]: ...


@runtime_checkable
class ErpInvoiceQueries(Protocol):
    """Reading posted invoices back, for reconciliation."""

    async def find_sales_invoice_by_number(
        self, company_id: str, number: str
    ) -> ErpSalesInvoice | None:
        """The invoice with this ERP document number (draft or posted), if any."""
        ...

    async def list_sales_invoices(
        self, company_id: str, posted_from: date, posted_to: date
    ) -> tuple[ErpSalesInvoice, ...]:
        """Every posted invoice dated within `posted_from..posted_to` (both included)."""
        ...


@runtime_checkable
class ErpLedgerQueries(Protocol):
    """Reading posted credit memos and general ledger entries back, for reconciliation."""

    async def list_sales_credit_memos(
        self, company_id: str, posted_from: date, posted_to: date
    ) -> tuple[ErpSalesCreditMemo, ...]:
        """Every posted credit memo dated within `posted_from..posted_to` (both included)."""
        ...

    async def list_ledger_entries(
        self,
        company_id: str,
        posted_from: date,
        posted_to: date,
        *,
        account_number: str,
        currency: str,
    ) -> tuple[ErpLedgerEntry, ...]:
        """The ledger entries on one account posted within `posted_from..posted_to`.

        Ledger amounts are kept in the company's own currency, `currency`.
        """
        ...


@runtime_checkable
class ErpDocumentStreams(Protocol):
    """Every posted document of a period, read page by page: reconciliation's input.

    Each yields documents as the ERP pages them, in no promised order, and holds no more
    than a page in memory.
    """

    def stream_sales_invoices(
        self, company_id: str, posted_from: date, posted_to: date
    ) -> AsyncIterator[ErpSalesInvoice]:
        """Posted sales invoices dated within `posted_from..posted_to`, without lines."""
        ...

    def stream_sales_credit_memos(
        self, company_id: str, posted_from: date, posted_to: date
    ) -> AsyncIterator[ErpSalesCreditMemo]:
        """Posted sales credit memos dated within `posted_from..posted_to`, without lines."""
        ...

    def stream_customer_payments(
        self,
        company_id: str,
        journal_code: str,
        posted_from: date,
        posted_to: date,
        *,
        currency: str,
    ) -> AsyncIterator[ErpCustomerPayment]:
        """The payments of the journal with this code dated within the period, in `currency`."""
        ...

    def stream_ledger_entries(
        self,
        company_id: str,
        posted_from: date,
        posted_to: date,
        *,
        account_number: str,
        currency: str,
    ) -> AsyncIterator[ErpLedgerEntry]:
        """The ledger entries on one account posted within the period."""
        ...


@runtime_checkable
class ErpCreditMemos(Protocol):
    """Sales credit memos, optionally applied to the posted invoice they correct."""

    async def find_sales_credit_memo(
        self, company_id: str, external_document_number: str
    ) -> ErpSalesCreditMemo | None: ...

    async def create_sales_credit_memo(
        self, company_id: str, credit_memo: ErpSalesCreditMemoCreate
    ) -> ErpSalesCreditMemo:
        """Create the draft (header and every line), or complete the one that exists."""
        ...

    async def post_sales_credit_memo(
        self, company_id: str, credit_memo_id: str
    ) -> ErpSalesCreditMemo:
        """Post a draft, applying it to its invoice; a posted memo is returned unchanged."""
        ...

    async def delete_sales_credit_memo_draft(self, company_id: str, credit_memo_id: str) -> None:
        """Delete a draft memo; a posted one is refused, one already gone `BackendNotFound`."""
        ...

    async def apply_sales_credit_memo(
        self, company_id: str, application: ErpCreditMemoApplicationCreate
    ) -> ErpCreditMemoApplication:
        """Apply a posted memo's open credit to a posted invoice of its customer (the
        amount in all for that pair, so a repeat changes nothing). An ERP whose API cannot
        apply a posted memo refuses with a business error."""
        ...


@runtime_checkable
class ErpJournals(Protocol):
    """General journal entries (settlements, adjustments) and the ledger they post to."""

    async def ensure_journal(self, company_id: str, journal: ErpJournalCreate) -> ErpJournal:
        """The journal batch with this code, created or brought in line with `journal`."""
        ...

    async def add_journal_entry(
        self, company_id: str, journal_id: str, entry: ErpJournalEntryCreate
    ) -> ErpJournalEntry:
        """Add the lines the journal does not hold yet; a posted entry is returned as it is."""
        ...

    async def post_journal_entry(
        self, company_id: str, journal_id: str, document_number: str, currency: str
    ) -> ErpJournalEntry:
        """Post the journal; an entry already in the ledger is returned unchanged.

        Posting a journal posts every line in it: give each purpose its own journal so
        that a batch only ever holds entries that are ready.
        """
        ...


@runtime_checkable
class ErpPayments(Protocol):
    """Customer payments applied to posted invoices."""

    async def ensure_customer_payment_journal(
        self, company_id: str, journal: ErpJournalCreate
    ) -> ErpJournal: ...

    async def apply_customer_payment(
        self, company_id: str, journal_id: str, payment: ErpCustomerPaymentCreate
    ) -> ErpCustomerPayment:
        """Register the payment against its invoice, once per external document number."""
        ...

    async def reverse_customer_payment(
        self, company_id: str, journal_id: str, reversal: ErpCustomerPaymentReversal
    ) -> ErpCustomerPayment:
        """Add the reversing entry (opposite sign, applied to the same invoice, which owes
        the amount again), once per external document number; the original stays."""
        ...


@runtime_checkable
class ErpCatalog(Protocol):
    """The items a company sells, read page by page: catalog drift's input."""

    def stream_items(self, company_id: str, *, currency: str) -> AsyncIterator[ErpItem]:
        """Every item of the company, in no promised order, its unit price read in the
        company's own `currency`; no more than a page is held in memory."""
        ...


@runtime_checkable
class ErpBulkInvoicing(Protocol):
    """Many new sales invoices at once, for postings nobody waits on (bulk work)."""

    async def post_new_sales_invoices(
        self, company_id: str, invoices: Sequence[ErpSalesInvoiceCreate]
    ) -> list[ErpSalesInvoice | BackendError]:
        """Create and post documents no earlier attempt sent (the caller knows them
        absent), in as few requests as the ERP allows and within the bulk share of its
        budget. One outcome per document, in order: the posted document, or the error
        that stopped it; a failure stops only the documents it names."""

    async def bulk_invoices_per_request(self, company_id: str) -> int:
        """How many documents one call of `post_new_sales_invoices` carries best: a call
        with more sends them in several requests, one after another."""


class ErpSalesOrders(Protocol):
    """A customer's credit standing, and the sales orders an accepted quote becomes."""

    async def get_customer_credit(
        self, company_id: str, number: str, *, currency: str
    ) -> ErpCustomerCredit:
        """Balance, credit limit and block of the customer, amounts in the company's own
        `currency`; an unknown customer is `BackendNotFound`."""
        ...

    async def find_sales_order(
        self, company_id: str, external_document_number: str
    ) -> ErpSalesOrder | None: ...

    async def create_sales_order(
        self, company_id: str, order: ErpSalesOrderCreate
    ) -> ErpSalesOrder:
        """Create the order (header and every line), or complete the one that exists; an
        item the ERP does not sell (unknown or blocked) is a business error."""
        ...

    async def get_sales_order(self, company_id: str, order_id: str) -> ErpSalesOrder:
        """The order as the ERP holds it now; one deleted (BC's way to cancel an order
        never shipped) is `BackendNotFound`."""
        ...


@runtime_checkable
class ErpPort(
    ErpLedgerSetup,
    ErpInvoicing,
    ErpBulkInvoicing,
    ErpInvoiceQueries,
    ErpLedgerQueries,
    ErpDocumentStreams,
    ErpCreditMemos,
    ErpJournals,
    ErpPayments,
    ErpCatalog,
    ErpSalesOrders,
    Protocol,
):
    """Everything the process tier may ask of an ERP."""
