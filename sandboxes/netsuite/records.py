"""The records the sandbox keeps: tax items, G/L accounts, customers, invoices with their
lines, credit memos, customer payments, journal entries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sandboxes.business_central import TAX_PERCENT
from sandboxes.demo_estate import DEMO_COMPANIES, DemoCompany, first_open_day
from sandboxes.netsuite.catalog import ItemRecord, demo_items
from sandboxes.netsuite.wire import APPROVED, FIRST_RECORD_ID, FIRST_TRAN_NUMBER, utc_now


@dataclass
class TaxItem:
    id: str
    item_id: str
    subsidiary_id: str
    rate: Decimal


@dataclass
class CustomerRecord:
    id: str
    external_id: str
    entity_id: str
    company_name: str
    email: str
    currency_id: str
    subsidiary_id: str
    # The credit hold: `AUTO` (by the credit limit), `ON` (held) or `OFF`.
    credit_hold: str = "AUTO"
    credit_limit: Decimal | None = None
    modified: str = field(default_factory=utc_now)


@dataclass
class InvoiceLine:
    line: int
    description: str
    quantity: Decimal
    rate: Decimal
    amount: Decimal
    tax_item: TaxItem
    tax_amount: Decimal
    account: AccountRecord | None = None  # the line's G/L account, instead of the item's


class LineTotals:
    """The sums of a document's item lines."""

    lines: list[InvoiceLine]

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def tax_total(self) -> Decimal:
        return sum((line.tax_amount for line in self.lines), Decimal(0))

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax_total


@dataclass
class InvoiceRecord(LineTotals):
    id: str
    external_id: str
    tran_id: str
    customer: CustomerRecord
    currency_id: str
    tran_date: date
    due_date: date
    approval_status: str
    lines: list[InvoiceLine]
    modified: str = field(default_factory=utc_now)
    credited: Decimal = Decimal(0)  # by the credit memos applied to it
    paid: Decimal = Decimal(0)  # by the customer payments applied to it

    @property
    def amount_due(self) -> Decimal:
        return self.total - self.credited - self.paid


@dataclass
class CreditMemoRecord(LineTotals):
    """A credit memo posts when it is saved; `created_from` is the invoice it is applied to
    then, `applied` the invoices its open credit was applied to later."""

    id: str
    external_id: str
    tran_id: str
    customer: CustomerRecord
    currency_id: str
    tran_date: date
    created_from: InvoiceRecord | None
    lines: list[InvoiceLine]
    # Applied later (`PATCH` of its `apply` sublist), by invoice id: open credit used up.
    applied: dict[str, Decimal] = field(default_factory=dict)

    @property
    def unapplied(self) -> Decimal:
        """What is left of the credit: a memo created from an invoice is applied in full."""
        used = self.total if self.created_from is not None else Decimal(0)
        return self.total - used - sum(self.applied.values(), Decimal(0))


@dataclass
class SalesOrderRecord(LineTotals):
    """A sales order. `order_status` is NetSuite's: `A` pending approval, `B` pending
    fulfillment, `F` pending billing, `G` billed, `C` cancelled, `H` closed."""

    id: str
    external_id: str
    tran_id: str
    customer: CustomerRecord
    currency_id: str
    tran_date: date
    start_date: date | None
    order_status: str
    lines: list[InvoiceLine]
    item_ids: list[str]  # the internal id of each line's item, in line order
    modified: str = field(default_factory=utc_now)


@dataclass
class AccountRecord:
    """A general ledger account, shared by every subsidiary."""

    id: str
    acct_number: str
    acct_name: str
    acct_type: str


@dataclass
class PaymentRecord:
    """A customer payment transformed from `invoice`, posted on save. `applied` is what it
    applies to each document by internal id: the invoice, or a journal entry's open A/R
    debit once it is re-applied there (a returned payment)."""

    id: str
    external_id: str
    tran_id: str
    invoice: InvoiceRecord
    account: AccountRecord
    receivable: AccountRecord
    tran_date: date
    payment: Decimal
    memo: str
    applied: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class JournalLine:
    line: int
    account: AccountRecord
    debit: Decimal
    credit: Decimal
    memo: str
    entity: CustomerRecord | None = None  # the customer of an A/R line


@dataclass
class JournalEntryRecord:
    """A journal entry; with journal approval on, it posts once `approved`."""

    id: str
    external_id: str
    tran_id: str
    subsidiary_id: str
    currency_id: str
    tran_date: date
    memo: str
    approved: bool
    lines: list[JournalLine]


RECEIVABLE = "AcctRec"
DEMO_ACCOUNTS = (
    ("10100", "Operating Bank", "Bank"),
    ("11000", "Accounts Receivable", RECEIVABLE),
    ("21500", "Partner Commissions Payable", "OthCurrLiab"),
    ("24000", "Deferred Revenue", "DeferRevenue"),
    ("40100", "Subscription Revenue", "Income"),
    ("60100", "Partner Commission Expense", "Expense"),
    ("68100", "Chargeback Losses", "Expense"),
    ("68200", "Payment Dispute Fees", "Expense"),
)


class NetSuiteState:
    """The sandbox's records, plus views tests assert on."""

    def __init__(
        self, companies: Iterable[DemoCompany] = DEMO_COMPANIES, *, today: date | None = None
    ) -> None:
        self.today = today
        self.subsidiaries: dict[str, DemoCompany] = {}
        self.tax_items: dict[str, TaxItem] = {}
        self.customers: dict[str, CustomerRecord] = {}
        self.invoices: dict[str, InvoiceRecord] = {}
        self.credit_memos: dict[str, CreditMemoRecord] = {}
        self.sales_orders: dict[str, SalesOrderRecord] = {}
        self.payments: dict[str, PaymentRecord] = {}
        self.journal_entries: dict[str, JournalEntryRecord] = {}
        self.accounts: dict[str, AccountRecord] = {}
        self._next_id = FIRST_RECORD_ID
        self.next_tran_number = FIRST_TRAN_NUMBER
        for number, company in enumerate(companies, start=1):
            self.subsidiaries[str(number)] = company
            for code in company.tax_codes:
                item = TaxItem(
                    self.new_id(), code, str(number), TAX_PERCENT[(company.country, code)]
                )
                self.tax_items[item.id] = item
        for number_text, name, kind in DEMO_ACCOUNTS:
            account = AccountRecord(self.new_id(), number_text, name, kind)
            self.accounts[account.id] = account
        self.items: dict[str, ItemRecord] = demo_items(self.subsidiaries)

    def new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def subsidiary_id(self, company: DemoCompany) -> str:
        return next(key for key, value in self.subsidiaries.items() if value == company)

    def invoice_count(self, external_id: str) -> int:
        """How many invoices carry this external id (NetSuite keeps it at 0 or 1)."""
        return sum(1 for invoice in self.invoices.values() if invoice.external_id == external_id)

    def sales_order(self, external_id: str) -> SalesOrderRecord | None:
        found = [o for o in self.sales_orders.values() if o.external_id == external_id]
        assert len(found) <= 1, f"{len(found)} sales orders {external_id}"
        return found[0] if found else None

    def balance(self, customer: CustomerRecord) -> Decimal:
        """What the customer's approved invoices still owe."""
        return sum(
            (
                invoice.amount_due
                for invoice in self.invoices.values()
                if invoice.customer is customer and invoice.approval_status == APPROVED
            ),
            Decimal(0),
        )

    def payment_count(self, external_id: str) -> int:
        return sum(1 for payment in self.payments.values() if payment.external_id == external_id)

    def receivable_account(self) -> AccountRecord:
        return next(a for a in self.accounts.values() if a.acct_type == RECEIVABLE)

    def applied_to(self, document_id: str) -> Decimal:
        """What customer payments apply to the document with this internal id."""
        return sum(
            (payment.applied.get(document_id, Decimal(0)) for payment in self.payments.values()),
            Decimal(0),
        )

    def journal_entry_count(self, external_id: str) -> int:
        return sum(1 for entry in self.journal_entries.values() if entry.external_id == external_id)

    def first_open_day(self) -> date:
        return first_open_day(self.today)
