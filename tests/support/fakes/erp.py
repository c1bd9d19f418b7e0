"""An in-memory ERP that satisfies `ErpPort`: companies, customers, documents, journals.

It keeps the ERP's own rules the process tier relies on: creates are keyed by the caller's
number (a repeat returns the document that exists), posting a posted document is a no-op,
the ERP taxes each line itself from the company's tax rate for its tax group (so a test can
make it book other totals than ours), a posted credit memo or payment lowers what its
invoice still owes, a journal posts only entries whose lines balance, and a posted
document's lines with a G/L account are entries of that account's ledger (an invoice's
credit it, a credit memo's debit it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from system_apis.erp.port import ErpPort
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
    ErpDocumentStatus,
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
    ErpSalesOrder,
    ErpSalesOrderCreate,
    ErpSalesOrderStatus,
)
from system_apis.errors import BackendBusinessError, BackendError, BackendNotFound
from tests.support.fakes.recorder import Recorder

POSTED = (ErpDocumentStatus.POSTED, ErpDocumentStatus.PAID)


def line_tax(line: ErpInvoiceLine, rate_bps: int) -> int:
    """The tax the ERP books on a line: its amount at the rate, half up, in minor units."""
    return (line.quantity * line.unit_price * rate_bps + 5_000) // 10_000


@dataclass
class FakeCompany:
    """One ERP company: its tax groups (code → rate in basis points) and currencies."""

    id: str
    name: str
    currency: str
    tax_rates: dict[str, int]
    currencies: tuple[str, ...] = ()
    items: list[ErpItem] = field(default_factory=list)

    def totals(self, lines: Iterable[ErpInvoiceLine]) -> tuple[int, int]:
        """Subtotal and tax of the lines, as this company books them."""
        lines = tuple(lines)
        subtotal = sum(line.quantity * line.unit_price for line in lines)
        tax = sum(line_tax(line, self.tax_rates.get(line.tax_code, 0)) for line in lines)
        return subtotal, tax


@dataclass
class _Journal:
    journal: ErpJournal
    entries: dict[str, ErpJournalEntry] = field(default_factory=dict)


class FakeErp:
    """`ErpPort` held in dicts; `recorder` arms failures and keeps the calls."""

    def __init__(self, *companies: FakeCompany) -> None:
        self.recorder = Recorder("erp", ErpPort)
        self.companies = {company.id: company for company in companies}
        self.customers: dict[tuple[str, str], ErpCustomer] = {}
        self.blocked: dict[tuple[str, str], bool] = {}
        self.invoices: dict[str, ErpSalesInvoice] = {}
        self.invoice_company: dict[str, str] = {}
        self.credit_memos: dict[str, ErpSalesCreditMemo] = {}
        self.credit_memo_company: dict[str, str] = {}
        self.credit_applications: dict[tuple[str, str], int] = {}  # by (memo, invoice)
        self.journals: dict[tuple[str, str], _Journal] = {}  # by (company, journal id)
        self.payments: dict[str, ErpCustomerPayment] = {}  # by external document number
        self.ledger: list[tuple[str, str, ErpLedgerEntry]] = []  # (company, currency, entry)
        self._entry_dates: dict[tuple[str, str], date] = {}  # by (journal id, document)
        # A document's lines by its id, booked to the ledger when it is posted.
        self._document_lines: dict[str, tuple[ErpInvoiceLine, ...]] = {}
        self.credit_limits: dict[tuple[str, str], int] = {}  # by (company, customer number)
        self.sales_orders: dict[str, ErpSalesOrder] = {}  # by id
        self.bulk_per_request = 20
        self._serial = 0

    def _next(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}-{self._serial:05d}"

    def _company(self, operation: str, company_id: str) -> FakeCompany:
        company = self.companies.get(company_id)
        if company is None:
            self.recorder.not_found(operation, f"no company {company_id}")
        return company

    # ErpLedgerSetup

    async def get_company(self, company_id: str) -> ErpCompany:
        self.recorder.enter("get_company", company_id=company_id)
        company = self._company("get_company", company_id)
        return ErpCompany(id=company.id, name=company.name, display_name=company.name)

    async def list_tax_codes(self, company_id: str) -> frozenset[str]:
        self.recorder.enter("list_tax_codes", company_id=company_id)
        return frozenset(self._company("list_tax_codes", company_id).tax_rates)

    async def list_currencies(self, company_id: str) -> tuple[ErpCurrency, ...]:
        self.recorder.enter("list_currencies", company_id=company_id)
        company = self._company("list_currencies", company_id)
        return tuple(
            ErpCurrency(code=code, display_name=code, symbol=None) for code in company.currencies
        )

    # ErpInvoicing

    async def upsert_customer(self, company_id: str, customer: ErpCustomerUpsert) -> ErpCustomer:
        self.recorder.enter("upsert_customer", company_id=company_id, number=customer.number)
        self._company("upsert_customer", company_id)
        known = self.customers.get((company_id, customer.number))
        upserted = ErpCustomer(
            id=known.id if known else self._next("CUST"),
            number=customer.number,
            display_name=customer.display_name,
            currency=customer.currency,
        )
        self.customers[(company_id, customer.number)] = upserted
        return upserted

    async def set_customer_blocked(
        self, company_id: str, number: str, *, blocked: bool
    ) -> ErpCustomerStanding:
        self.recorder.enter(
            "set_customer_blocked", company_id=company_id, number=number, blocked=blocked
        )
        self._company("set_customer_blocked", company_id)
        known = self.customers.get((company_id, number))
        if known is None:
            raise BackendNotFound(
                f"no customer {number}", backend="erp", operation="set_customer_blocked"
            )
        self.blocked[(company_id, number)] = blocked
        return ErpCustomerStanding(id=known.id, number=number, blocked=blocked)

    def _invoice_by_external(self, company_id: str, number: str) -> ErpSalesInvoice | None:
        return next(
            (
                invoice
                for invoice in self.invoices.values()
                if invoice.external_document_number == number
                and self.invoice_company[invoice.id] == company_id
            ),
            None,
        )

    async def find_sales_invoice(
        self, company_id: str, external_document_number: str
    ) -> ErpSalesInvoice | None:
        self.recorder.enter("find_sales_invoice", company_id=company_id)
        return self._invoice_by_external(company_id, external_document_number)

    async def get_sales_invoice(self, company_id: str, invoice_id: str) -> ErpSalesInvoice:
        self.recorder.enter("get_sales_invoice", company_id=company_id, invoice_id=invoice_id)
        invoice = self.invoices.get(invoice_id)
        if invoice is None or self.invoice_company[invoice_id] != company_id:
            self.recorder.not_found("get_sales_invoice", f"no sales invoice {invoice_id}")
        return invoice

    async def create_sales_invoice(
        self, company_id: str, invoice: ErpSalesInvoiceCreate, *, known_absent: bool = False
    ) -> ErpSalesInvoice:
        self.recorder.enter(
            "create_sales_invoice",
            company_id=company_id,
            external_document_number=invoice.external_document_number,
            known_absent=known_absent,
        )
        company = self._company("create_sales_invoice", company_id)
        existing = self._invoice_by_external(company_id, invoice.external_document_number)
        if existing is not None:
            if known_absent:
                self.recorder.refuse(
                    "create_sales_invoice",
                    f"external document number {invoice.external_document_number} is taken",
                )
            return existing
        subtotal, tax = company.totals(invoice.lines)
        draft = ErpSalesInvoice(
            id=self._next("SI-ID"),
            number=None,
            external_document_number=invoice.external_document_number,
            customer_number=invoice.customer_number,
            currency=invoice.currency,
            posting_date=invoice.posting_date,
            status=ErpDocumentStatus.DRAFT,
            line_count=len(invoice.lines),
            total_excluding_tax=subtotal,
            total_tax=tax,
            total_including_tax=subtotal + tax,
            remaining_amount=0,
        )
        self.invoices[draft.id] = draft
        self.invoice_company[draft.id] = company_id
        self._document_lines[draft.id] = invoice.lines
        return draft

    async def post_sales_invoice(
        self, company_id: str, invoice_id: str, *, known_draft: bool = False
    ) -> ErpSalesInvoice:
        self.recorder.enter("post_sales_invoice", company_id=company_id, invoice_id=invoice_id)
        invoice = self.invoices.get(invoice_id)
        if invoice is None or self.invoice_company[invoice_id] != company_id:
            self.recorder.not_found("post_sales_invoice", f"no sales invoice {invoice_id}")
        if invoice.status in POSTED:
            return invoice
        posted = invoice.model_copy(
            update={
                "number": self._next("PSI"),
                "status": ErpDocumentStatus.POSTED,
                "remaining_amount": invoice.total_including_tax,
            }
        )
        self.invoices[invoice_id] = posted
        self._book_lines(company_id, posted, sign=-1)
        return posted

    async def post_new_sales_invoice(
        self, company_id: str, invoice: ErpSalesInvoiceCreate
    ) -> ErpSalesInvoice:
        """Created and posted in turn, as NetSuite's are."""
        self.recorder.enter("post_new_sales_invoice", company_id=company_id)
        draft = await self.create_sales_invoice(company_id, invoice, known_absent=True)
        return await self.post_sales_invoice(company_id, draft.id)

    async def post_new_sales_invoices(
        self, company_id: str, invoices: Sequence[ErpSalesInvoiceCreate]
    ) -> list[ErpSalesInvoice | BackendError]:
        """Each document created and posted in turn; a failure is that document's outcome."""
        self.recorder.enter("post_new_sales_invoices", company_id=company_id, count=len(invoices))
        outcomes: list[ErpSalesInvoice | BackendError] = []
        for invoice in invoices:
            try:
                draft = await self.create_sales_invoice(company_id, invoice, known_absent=True)
                outcomes.append(await self.post_sales_invoice(company_id, draft.id))
            except BackendError as error:
                outcomes.append(error)
        return outcomes

    async def bulk_invoices_per_request(self, company_id: str) -> int:
        return self.bulk_per_request

    async def delete_sales_invoice_draft(self, company_id: str, invoice_id: str) -> None:
        self.recorder.enter("delete_sales_invoice_draft", company_id=company_id)
        self._delete_draft("delete_sales_invoice_draft", self.invoices, invoice_id)

    def _delete_draft(
        self,
        operation: str,
        documents: dict[str, ErpSalesInvoice] | dict[str, ErpSalesCreditMemo],
        document_id: str,
    ) -> None:
        """A draft goes; a posted document is refused, as the ERP refuses it."""
        document = documents.get(document_id)
        if document is None:
            self.recorder.not_found(operation, f"no document {document_id}")
        if document.status != ErpDocumentStatus.DRAFT:
            self.recorder.refuse(operation, f"{document_id} is posted and cannot be deleted")
        del documents[document_id]

    def settle(self, operation: str, invoice_id: str, amount: int) -> None:
        """Lower what the posted invoice still owes by `amount` (a credit or a payment; a
        reversal's negative amount raises it again)."""
        invoice = self.invoices[invoice_id]
        remaining = invoice.remaining_amount - amount
        if remaining < 0:
            self.recorder.refuse(operation, f"{amount} is more than {invoice_id} still owes")
        status = ErpDocumentStatus.PAID if remaining == 0 else ErpDocumentStatus.POSTED
        self.invoices[invoice_id] = invoice.model_copy(
            update={"remaining_amount": remaining, "status": status}
        )

    # ErpInvoiceQueries

    async def find_sales_invoice_by_number(
        self, company_id: str, number: str
    ) -> ErpSalesInvoice | None:
        self.recorder.enter("find_sales_invoice_by_number", company_id=company_id, number=number)
        return next(
            (
                invoice
                for invoice in self.invoices.values()
                if invoice.number == number and self.invoice_company[invoice.id] == company_id
            ),
            None,
        )

    def _posted_invoices(
        self, company_id: str, posted_from: date, posted_to: date
    ) -> tuple[ErpSalesInvoice, ...]:
        return tuple(
            invoice
            for invoice in self.invoices.values()
            if self.invoice_company[invoice.id] == company_id
            and invoice.status in POSTED
            and invoice.posting_date is not None
            and posted_from <= invoice.posting_date <= posted_to
        )

    async def list_sales_invoices(
        self, company_id: str, posted_from: date, posted_to: date
    ) -> tuple[ErpSalesInvoice, ...]:
        self.recorder.enter("list_sales_invoices", company_id=company_id)
        return self._posted_invoices(company_id, posted_from, posted_to)

    # ErpLedgerQueries

    def _posted_memos(
        self, company_id: str, posted_from: date, posted_to: date
    ) -> tuple[ErpSalesCreditMemo, ...]:
        return tuple(
            memo
            for memo in self.credit_memos.values()
            if self.credit_memo_company[memo.id] == company_id
            and memo.status in POSTED
            and memo.posting_date is not None
            and posted_from <= memo.posting_date <= posted_to
        )

    def _ledger(
        self, company_id: str, posted_from: date, posted_to: date, account: str, currency: str
    ) -> tuple[ErpLedgerEntry, ...]:
        return tuple(
            entry
            for company, kept_in, entry in self.ledger
            if company == company_id
            and kept_in == currency
            and entry.account_number == account
            and entry.posting_date is not None
            and posted_from <= entry.posting_date <= posted_to
        )

    async def list_sales_credit_memos(
        self, company_id: str, posted_from: date, posted_to: date
    ) -> tuple[ErpSalesCreditMemo, ...]:
        self.recorder.enter("list_sales_credit_memos", company_id=company_id)
        return self._posted_memos(company_id, posted_from, posted_to)

    async def list_ledger_entries(
        self,
        company_id: str,
        posted_from: date,
        posted_to: date,
        *,
        account_number: str,
        currency: str,
    ) -> tuple[ErpLedgerEntry, ...]:
        self.recorder.enter("list_ledger_entries", company_id=company_id)
        return self._ledger(company_id, posted_from, posted_to, account_number, currency)

    # ErpCatalog

    async def stream_items(self, company_id: str, *, currency: str) -> AsyncIterator[ErpItem]:
        self.recorder.enter("stream_items", company_id=company_id)
        for item in self._company("stream_items", company_id).items:
            yield item

    # ErpDocumentStreams

    async def stream_sales_invoices(
        self, company_id: str, posted_from: date, posted_to: date
    ) -> AsyncIterator[ErpSalesInvoice]:
        self.recorder.enter("stream_sales_invoices", company_id=company_id)
        for invoice in self._posted_invoices(company_id, posted_from, posted_to):
            yield invoice

    async def stream_sales_credit_memos(
        self, company_id: str, posted_from: date, posted_to: date
    ) -> AsyncIterator[ErpSalesCreditMemo]:
        self.recorder.enter("stream_sales_credit_memos", company_id=company_id)
        for memo in self._posted_memos(company_id, posted_from, posted_to):
            yield memo

    async def stream_customer_payments(
        self,
        company_id: str,
        journal_code: str,
        posted_from: date,
        posted_to: date,
        *,
        currency: str,
    ) -> AsyncIterator[ErpCustomerPayment]:
        self.recorder.enter("stream_customer_payments", company_id=company_id)
        for (company, _), kept in list(self.journals.items()):
            if company != company_id or kept.journal.code != journal_code:
                continue
            for payment in list(self.payments.values()):
                if (
                    payment.journal_id == kept.journal.id
                    and payment.currency == currency
                    and payment.posting_date is not None
                    and posted_from <= payment.posting_date <= posted_to
                ):
                    yield payment

    async def stream_ledger_entries(
        self,
        company_id: str,
        posted_from: date,
        posted_to: date,
        *,
        account_number: str,
        currency: str,
    ) -> AsyncIterator[ErpLedgerEntry]:
        self.recorder.enter("stream_ledger_entries", company_id=company_id)
        for entry in self._ledger(company_id, posted_from, posted_to, account_number, currency):
            yield entry

    # ErpCreditMemos

    def _memo_by_external(self, company_id: str, number: str) -> ErpSalesCreditMemo | None:
        return next(
            (
                memo
                for memo in self.credit_memos.values()
                if memo.external_document_number == number
                and self.credit_memo_company[memo.id] == company_id
            ),
            None,
        )

    async def find_sales_credit_memo(
        self, company_id: str, external_document_number: str
    ) -> ErpSalesCreditMemo | None:
        self.recorder.enter("find_sales_credit_memo", company_id=company_id)
        return self._memo_by_external(company_id, external_document_number)

    async def create_sales_credit_memo(
        self, company_id: str, credit_memo: ErpSalesCreditMemoCreate
    ) -> ErpSalesCreditMemo:
        self.recorder.enter(
            "create_sales_credit_memo",
            company_id=company_id,
            external_document_number=credit_memo.external_document_number,
        )
        company = self._company("create_sales_credit_memo", company_id)
        existing = self._memo_by_external(company_id, credit_memo.external_document_number)
        if existing is not None:
            return existing
        applies_to = credit_memo.applies_to_invoice_id
        if applies_to is not None and self.invoices.get(applies_to) is None:
            self.recorder.not_found("create_sales_credit_memo", f"no sales invoice {applies_to}")
        subtotal, tax = company.totals(credit_memo.lines)
        draft = ErpSalesCreditMemo(
            id=self._next("SCM-ID"),
            number=None,
            external_document_number=credit_memo.external_document_number,
            customer_number=credit_memo.customer_number,
            currency=credit_memo.currency,
            posting_date=credit_memo.posting_date,
            status=ErpDocumentStatus.DRAFT,
            applies_to_invoice_id=applies_to,
            applies_to_invoice_number=self.invoices[applies_to].number if applies_to else None,
            line_count=len(credit_memo.lines),
            total_excluding_tax=subtotal,
            total_tax=tax,
            total_including_tax=subtotal + tax,
        )
        self.credit_memos[draft.id] = draft
        self.credit_memo_company[draft.id] = company_id
        self._document_lines[draft.id] = credit_memo.lines
        return draft

    async def delete_sales_credit_memo_draft(self, company_id: str, credit_memo_id: str) -> None:
        self.recorder.enter("delete_sales_credit_memo_draft", company_id=company_id)
        self._delete_draft("delete_sales_credit_memo_draft", self.credit_memos, credit_memo_id)

    async def post_sales_credit_memo(
        self, company_id: str, credit_memo_id: str
    ) -> ErpSalesCreditMemo:
        self.recorder.enter(
            "post_sales_credit_memo", company_id=company_id, credit_memo_id=credit_memo_id
        )
        memo = self.credit_memos.get(credit_memo_id)
        if memo is None or self.credit_memo_company[credit_memo_id] != company_id:
            self.recorder.not_found("post_sales_credit_memo", f"no credit memo {credit_memo_id}")
        if memo.status in POSTED:
            return memo
        if memo.applies_to_invoice_id is not None:
            self.settle(
                "post_sales_credit_memo", memo.applies_to_invoice_id, memo.total_including_tax
            )
        posted = memo.model_copy(
            update={"number": self._next("PSCM"), "status": ErpDocumentStatus.POSTED}
        )
        self.credit_memos[credit_memo_id] = posted
        self._book_lines(company_id, posted, sign=1)
        return posted

    async def apply_sales_credit_memo(
        self, company_id: str, application: ErpCreditMemoApplicationCreate
    ) -> ErpCreditMemoApplication:
        operation = "apply_sales_credit_memo"
        self.recorder.enter(operation, company_id=company_id, application=application)
        memo = self.credit_memos.get(application.credit_memo_id)
        invoice = self.invoices.get(application.invoice_id)
        if memo is None or invoice is None or memo.status not in POSTED:
            self.recorder.not_found(operation, f"no posted memo {application.credit_memo_id}")
        key = (memo.id, invoice.id)
        others = sum(
            amount
            for (memo_id, _), amount in self.credit_applications.items()
            if memo_id == memo.id
        ) - self.credit_applications.get(key, 0)
        applied_at_post = memo.total_including_tax if memo.applies_to_invoice_id else 0
        if others + applied_at_post + application.amount > memo.total_including_tax:
            self.recorder.refuse(operation, f"{memo.id} has not {application.amount} open")
        self.settle(
            operation, invoice.id, application.amount - self.credit_applications.get(key, 0)
        )
        self.credit_applications[key] = application.amount
        return ErpCreditMemoApplication(
            credit_memo_id=memo.id,
            credit_memo_number=memo.number,
            invoice_id=invoice.id,
            invoice_number=invoice.number,
            currency=memo.currency,
            amount=application.amount,
            invoice_remaining_amount=self.invoices[invoice.id].remaining_amount,
        )

    def _book_lines(
        self, company_id: str, document: ErpSalesInvoice | ErpSalesCreditMemo, *, sign: int
    ) -> None:
        """The posted document's lines with a G/L account, in its ledger: their amounts
        before tax, debited (`sign` 1) or credited (-1)."""
        for line in self._document_lines.get(document.id, ()):
            if line.account_number is None:
                continue
            amount = sign * line.quantity * line.unit_price
            entry = ErpLedgerEntry(
                entry_number=len(self.ledger) + 1,
                posting_date=document.posting_date,
                document_number=document.number,
                account_number=line.account_number,
                description=line.description,
                debit=max(amount, 0),
                credit=max(-amount, 0),
            )
            self.ledger.append((company_id, document.currency, entry))

    # ErpJournals

    def _ensure(self, company_id: str, journal: ErpJournalCreate) -> ErpJournal:
        for (company, _), kept in self.journals.items():
            if company == company_id and kept.journal.code == journal.code:
                kept.journal = kept.journal.model_copy(
                    update={
                        "display_name": journal.display_name,
                        "balancing_account_number": journal.balancing_account_number,
                    }
                )
                return kept.journal
        found = ErpJournal(
            id=self._next("JNL"),
            code=journal.code,
            display_name=journal.display_name,
            balancing_account_number=journal.balancing_account_number,
        )
        self.journals[(company_id, found.id)] = _Journal(found)
        return found

    def entries(self, journal_code: str) -> dict[str, ErpJournalEntry]:
        """Every entry of the journals with this code, by document number."""
        return {
            number: entry
            for kept in self.journals.values()
            if kept.journal.code == journal_code
            for number, entry in kept.entries.items()
        }

    def _journal(self, operation: str, company_id: str, journal_id: str) -> _Journal:
        kept = self.journals.get((company_id, journal_id))
        if kept is None:
            self.recorder.not_found(operation, f"no journal {journal_id}")
        return kept

    async def ensure_journal(self, company_id: str, journal: ErpJournalCreate) -> ErpJournal:
        self.recorder.enter("ensure_journal", company_id=company_id, code=journal.code)
        self._company("ensure_journal", company_id)
        return self._ensure(company_id, journal)

    async def add_journal_entry(
        self, company_id: str, journal_id: str, entry: ErpJournalEntryCreate
    ) -> ErpJournalEntry:
        self.recorder.enter(
            "add_journal_entry", company_id=company_id, document_number=entry.document_number
        )
        kept = self._journal("add_journal_entry", company_id, journal_id)
        held = kept.entries.get(entry.document_number)
        if held is not None and held.status == ErpDocumentStatus.POSTED:
            return held
        lines = held.lines if held is not None else ()
        added = ErpJournalEntry(
            journal_id=journal_id,
            document_number=entry.document_number,
            status=ErpDocumentStatus.DRAFT,
            currency=entry.currency,
            lines=lines + entry.lines[len(lines) :],
            ledger_entries=(),
        )
        kept.entries[entry.document_number] = added
        self._entry_dates[(journal_id, entry.document_number)] = entry.posting_date
        return added

    async def post_journal_entry(
        self, company_id: str, journal_id: str, document_number: str, currency: str
    ) -> ErpJournalEntry:
        self.recorder.enter(
            "post_journal_entry", company_id=company_id, document_number=document_number
        )
        kept = self._journal("post_journal_entry", company_id, journal_id)
        entry = kept.entries.get(document_number)
        if entry is None:
            self.recorder.not_found("post_journal_entry", f"no entry {document_number}")
        if entry.status == ErpDocumentStatus.POSTED:
            return entry
        unbalanced = sum(line.amount for line in entry.lines) != 0
        if kept.journal.balancing_account_number is None and unbalanced:
            self.recorder.refuse("post_journal_entry", f"entry {document_number} is unbalanced")
        posted = entry.model_copy(
            update={
                "status": ErpDocumentStatus.POSTED,
                "ledger_entries": self._book(
                    company_id, currency, entry, self._entry_dates[(journal_id, document_number)]
                ),
            }
        )
        kept.entries[document_number] = posted
        return posted

    def _book(
        self, company_id: str, currency: str, entry: ErpJournalEntry, on: date
    ) -> tuple[ErpLedgerEntry, ...]:
        booked = tuple(
            ErpLedgerEntry(
                entry_number=len(self.ledger) + offset,
                posting_date=on,
                document_number=entry.document_number,
                account_number=line.account_number,
                description=line.description,
                debit=max(line.amount, 0),
                credit=max(-line.amount, 0),
            )
            for offset, line in enumerate(entry.lines, start=1)
        )
        self.ledger.extend((company_id, currency, booked_entry) for booked_entry in booked)
        return booked

    # ErpPayments

    async def ensure_customer_payment_journal(
        self, company_id: str, journal: ErpJournalCreate
    ) -> ErpJournal:
        self.recorder.enter("ensure_customer_payment_journal", company_id=company_id)
        self._company("ensure_customer_payment_journal", company_id)
        return self._ensure(company_id, journal)

    async def apply_customer_payment(
        self, company_id: str, journal_id: str, payment: ErpCustomerPaymentCreate
    ) -> ErpCustomerPayment:
        return self._payment_line(
            "apply_customer_payment", company_id, journal_id, payment, payment.amount
        )

    async def reverse_customer_payment(
        self, company_id: str, journal_id: str, reversal: ErpCustomerPaymentReversal
    ) -> ErpCustomerPayment:
        return self._payment_line(
            "reverse_customer_payment", company_id, journal_id, reversal, -reversal.amount
        )

    def _payment_line(
        self,
        operation: str,
        company_id: str,
        journal_id: str,
        document: ErpCustomerPaymentCreate | ErpCustomerPaymentReversal,
        amount: int,
    ) -> ErpCustomerPayment:
        """A payment journal line of `amount` on the posted invoice it applies to (a
        reversal's is negative), once per external document number."""
        self.recorder.enter(
            operation,
            company_id=company_id,
            external_document_number=document.external_document_number,
            amount=document.amount,
        )
        self._journal(operation, company_id, journal_id)
        known = self.payments.get(document.external_document_number)
        if known is not None:
            return known
        invoice = self.invoices.get(document.applies_to_invoice_id)
        if invoice is None or invoice.status not in POSTED:
            self.recorder.not_found(
                operation, f"no posted invoice {document.applies_to_invoice_id}"
            )
        self.settle(operation, invoice.id, amount)
        line = ErpCustomerPayment(
            id=self._next("PAY"),
            journal_id=journal_id,
            line_number=len(self.payments) + 1,
            document_number=self._next("PMT"),
            external_document_number=document.external_document_number,
            customer_number=document.customer_number,
            posting_date=document.posting_date,
            currency=document.currency,
            amount=amount,
            applies_to_invoice_id=invoice.id,
            applies_to_invoice_number=invoice.number,
        )
        self.payments[document.external_document_number] = line
        return line

    # ErpSalesOrders

    async def get_customer_credit(
        self, company_id: str, number: str, *, currency: str
    ) -> ErpCustomerCredit:
        self.recorder.enter("get_customer_credit", company_id=company_id, number=number)
        self._company("get_customer_credit", company_id)
        if (company_id, number) not in self.customers:
            raise BackendNotFound(
                f"no customer {number}", backend="erp", operation="get_customer_credit"
            )
        balance = sum(
            invoice.remaining_amount
            for invoice_id, invoice in self.invoices.items()
            if self.invoice_company[invoice_id] == company_id
            and invoice.customer_number == number
            and invoice.status in POSTED
        )
        return ErpCustomerCredit(
            number=number,
            currency=currency,
            balance=balance,
            credit_limit=self.credit_limits.get((company_id, number)),
            blocked=self.blocked.get((company_id, number), False),
        )

    async def find_sales_order(
        self, company_id: str, external_document_number: str
    ) -> ErpSalesOrder | None:
        self.recorder.enter(
            "find_sales_order", company_id=company_id, external=external_document_number
        )
        return next(
            (
                order
                for order in self.sales_orders.values()
                if order.external_document_number == external_document_number
            ),
            None,
        )

    async def create_sales_order(
        self, company_id: str, order: ErpSalesOrderCreate
    ) -> ErpSalesOrder:
        self.recorder.enter(
            "create_sales_order", company_id=company_id, external=order.external_document_number
        )
        company = self._company("create_sales_order", company_id)
        known = await self.find_sales_order(company_id, order.external_document_number)
        if known is not None:
            return known
        sold = {item.number for item in company.items if not item.blocked}
        for line in order.lines:
            if company.items and line.item_number not in sold:
                raise BackendBusinessError(
                    f"no item {line.item_number}", backend="erp", operation="create_sales_order"
                )
        subtotal = sum(line.quantity * line.unit_price for line in order.lines)
        tax = sum(
            (line.quantity * line.unit_price * company.tax_rates.get(line.tax_code, 0) + 5_000)
            // 10_000
            for line in order.lines
        )
        created = ErpSalesOrder(
            id=self._next("SO"),
            number=self._next("S-ORD"),
            external_document_number=order.external_document_number,
            customer_number=order.customer_number,
            currency=order.currency,
            order_date=order.order_date,
            status=ErpSalesOrderStatus.OPEN,
            line_count=len(order.lines),
            total_excluding_tax=subtotal,
            total_tax=tax,
            total_including_tax=subtotal + tax,
        )
        self.sales_orders[created.id] = created
        return created

    async def get_sales_order(self, company_id: str, order_id: str) -> ErpSalesOrder:
        self.recorder.enter("get_sales_order", company_id=company_id, order_id=order_id)
        order = self.sales_orders.get(order_id)
        if order is None:
            raise BackendNotFound(
                f"no sales order {order_id}", backend="erp", operation="get_sales_order"
            )
        return order


# Statically checked: mypy fails here when the fake stops being a complete `ErpPort`.
_PORT: ErpPort = FakeErp()
