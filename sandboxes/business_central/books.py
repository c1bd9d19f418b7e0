"""A company's books (its master data, documents and journals by id) and the sandbox's state."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from core.currencies import minor_unit_exponent
from sandboxes.business_central.documents import (
    CREDIT_MEMO,
    INVOICE,
    ORDER,
    SalesCreditMemo,
    SalesDocument,
    SalesInvoice,
    SalesInvoiceLine,
    SalesOrder,
)
from sandboxes.business_central.indexed import Documents
from sandboxes.business_central.ledger import (
    CustomerPayment,
    GeneralLedgerEntry,
    Journal,
    JournalLine,
)
from sandboxes.business_central.master_data import Customer, Item, TaxGroup, demo_items
from sandboxes.business_central.odata import (
    CHART_OF_ACCOUNTS,
    CURRENCIES,
    EMPTY_GUID,
    FIRST_DRAFT_NUMBER,
    FIRST_MEMO_DRAFT_NUMBER,
    FIRST_MEMO_POSTED_NUMBER,
    FIRST_PAYMENT_NUMBER,
    FIRST_POSTED_NUMBER,
    LINE_NUMBER_STEP,
    TAX_PERCENT,
    ZERO,
    BcFault,
    round_amount,
)
from sandboxes.demo_estate import DEMO_COMPANIES, DemoCompany, first_open_day

FIRST_ORDER_NUMBER = 101001


@dataclass
class CompanyBook:
    """One company's records and number series."""

    company: DemoCompany
    tax_groups: dict[str, TaxGroup]
    items: dict[str, Item] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)
    invoices: Documents[SalesInvoice] = field(default_factory=Documents)
    credit_memos: Documents[SalesCreditMemo] = field(default_factory=Documents)
    sales_orders: Documents[SalesOrder] = field(default_factory=Documents)
    journals: dict[str, Journal] = field(default_factory=dict)
    payment_journals: dict[str, Journal] = field(default_factory=dict)
    ledger: list[GeneralLedgerEntry] = field(default_factory=list)
    document_numbers: dict[str, int] = field(
        default_factory=lambda: {
            INVOICE.draft_prefix: FIRST_DRAFT_NUMBER,
            INVOICE.posted_prefix: FIRST_POSTED_NUMBER,
            CREDIT_MEMO.draft_prefix: FIRST_MEMO_DRAFT_NUMBER,
            CREDIT_MEMO.posted_prefix: FIRST_MEMO_POSTED_NUMBER,
            ORDER.draft_prefix: FIRST_ORDER_NUMBER,
        }
    )
    next_payment_number: int = FIRST_PAYMENT_NUMBER

    def next_document_number(self, prefix: str) -> str:
        """The next number of a document number series (`S-INV102001`, `PS-CR105001`)."""
        number = self.document_numbers[prefix]
        self.document_numbers[prefix] = number + 1
        return f"{prefix}{number}"

    def record_id(self, kind: str, key: str) -> str:
        """A stable id for a seeded record (account, currency) of this company."""
        return str(uuid.uuid5(uuid.UUID(self.company.id), f"{kind}/{key}"))

    def account_id(self, number: str) -> str:
        return self.record_id("account", number) if number else EMPTY_GUID

    def account_number(self, account_id: str) -> str | None:
        """The number of the chart's account with this id, `None` for no such account."""
        return next(
            (number for number in CHART_OF_ACCOUNTS if self.account_id(number) == account_id),
            None,
        )

    def post_entry(self, line: JournalLine, account_number: str, amount: Decimal) -> None:
        """One general ledger entry: a debit when `amount` is positive, a credit otherwise."""
        self._entry(
            line.posting_date, line.document_number, line.description, account_number, amount
        )

    def post_document_entries(self, document: SalesDocument, sign: int) -> None:
        """A posted sales document's entries on the G/L accounts of its `Account` lines: each
        line's amount excluding tax, credited by an invoice (`sign` -1) and debited by a
        credit memo (`sign` 1). The receivable and tax sides are not kept."""
        for line in document.lines:
            if line.account_number:
                self._entry(
                    document.document_date,
                    document.number,
                    line.description,
                    line.account_number,
                    sign * line.amount_excluding_tax,
                )

    def _entry(
        self,
        posting_date: date,
        document_number: str,
        description: str,
        account_number: str,
        amount: Decimal,
    ) -> None:
        self.ledger.append(
            GeneralLedgerEntry(
                id=len(self.ledger) + 1,
                posting_date=posting_date,
                document_number=document_number,
                account_number=account_number,
                account_id=self.account_id(account_number),
                description=description,
                debit_amount=max(amount, ZERO),
                credit_amount=max(-amount, ZERO),
            )
        )

    def currency_wire(self, code: str) -> dict[str, Any]:
        name, symbol = CURRENCIES[code]
        exponent = minor_unit_exponent(code)
        return {
            "id": self.record_id("currency", code),
            "code": code,
            "displayName": name,
            "symbol": symbol,
            "amountDecimalPlaces": f"{exponent}:{exponent}",
            "amountRoundingPrecision": Decimal(1).scaleb(-exponent),
            "lastModifiedDateTime": "2024-01-01T00:00:00Z",
        }

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.company.id,
            "systemVersion": "16.0.0.0",
            "name": self.company.code,
            "displayName": self.company.name,
            "businessProfileId": "",
        }


class BusinessCentralState:
    """The sandbox's memory, plus the ledger views tests assert on."""

    def __init__(
        self, companies: Iterable[DemoCompany] = DEMO_COMPANIES, *, today: date | None = None
    ) -> None:
        self.today = today
        self.books: dict[str, CompanyBook] = {}
        self.repeated_creates: Counter[str] = Counter()
        """External document numbers created again while their document existed."""
        for company in companies:
            taxes = {
                code: TaxGroup(
                    id=str(uuid.uuid5(uuid.UUID(company.id), f"taxGroup/{code}")),
                    code=code,
                    percent=TAX_PERCENT[(company.country, code)],
                    tax_type="Sales Tax" if company.country == "US" else "VAT",
                )
                for code in company.tax_codes
            }
            self.books[company.id] = CompanyBook(
                company=company, tax_groups=taxes, items=demo_items(company)
            )

    def first_open_day(self) -> date:
        return first_open_day(self.today)

    def posted_invoices(self, company_id: str) -> list[SalesInvoice]:
        return [i for i in self.books[company_id].invoices.values() if i.status != "Draft"]

    def ledger(self, company_id: str) -> list[GeneralLedgerEntry]:
        return list(self.books[company_id].ledger)

    def credit_memo_count(self, company_id: str, external_document_number: str) -> int:
        """How many credit memos carry this external document number (should be 0 or 1)."""
        return len(self.books[company_id].credit_memos.with_external([external_document_number]))

    def add_customer(
        self, company_id: str, *, number: str, display_name: str, email: str, currency_code: str
    ) -> Customer:
        """A customer, as `POST customers` would create it (for seeding without HTTP)."""
        customer = Customer(
            id=str(uuid.uuid4()),
            number=number,
            display_name=display_name,
            email=email,
            currency_code=currency_code,
        )
        self.books[company_id].customers[customer.id] = customer
        return customer

    def add_posted_invoice(
        self,
        company_id: str,
        *,
        customer: Customer,
        external_document_number: str,
        invoice_date: date,
        due_date: date,
        lines: Iterable[Mapping[str, Any]],
        paid: bool = False,
    ) -> SalesInvoice:
        """A posted invoice as create, add lines and post leave it, without HTTP.

        For tests and benchmarks that need a large ledger. `lines` are line bodies
        (`sequence`, `description`, `quantity`, `unitPrice`, `taxCode`), priced and taxed
        as `POST salesInvoiceLines` does; `paid` settles the invoice in full.
        """
        book = self.books[company_id]
        invoice = SalesInvoice(
            id=str(uuid.uuid4()),
            number=book.next_document_number(INVOICE.posted_prefix),
            external_document_number=external_document_number,
            customer=customer,
            currency_code=customer.currency_code or book.company.currency,
            document_date=invoice_date,
            due_date=due_date,
            status="Open",
        )
        for values in lines:
            add_sales_line(book, invoice, dict(values))
        invoice.remaining_amount = invoice.total_including_tax
        if paid:
            settle(invoice, invoice.remaining_amount)
        book.invoices[invoice.id] = invoice
        return invoice

    def add_applied_payment(
        self,
        company_id: str,
        *,
        journal_code: str,
        invoice: SalesInvoice,
        amount: Decimal,
        posting_date: date,
        external_document_number: str,
    ) -> CustomerPayment:
        """A customer payment applied to a posted invoice, as `POST customerPayments` leaves
        it, without HTTP (for benchmarks mirroring a ledger); its journal is created if new."""
        book = self.books[company_id]
        journal = next((j for j in book.payment_journals.values() if j.code == journal_code), None)
        if journal is None:
            journal = Journal(str(uuid.uuid4()), journal_code, journal_code, "", EMPTY_GUID)
            book.payment_journals[journal.id] = journal
        settle(invoice, amount)
        payment = CustomerPayment(
            id=str(uuid.uuid4()),
            journal_code=journal.code,
            line_number=(len(journal.payments) + 1) * LINE_NUMBER_STEP,
            customer=invoice.customer,
            posting_date=posting_date,
            document_number=f"G{book.next_payment_number:05d}",
            external_document_number=external_document_number,
            amount=amount,
            invoice=invoice,
            description="",
        )
        book.next_payment_number += 1
        journal.payments.append(payment)
        return payment

    def sales_order(self, company_id: str, external_document_number: str) -> SalesOrder | None:
        """The sales order with this external document number, if any."""
        found = self.books[company_id].sales_orders.with_external([external_document_number])
        assert len(found) <= 1, f"{len(found)} sales orders {external_document_number}"
        return found[0] if found else None

    def document_count(self, company_id: str, external_document_number: str) -> int:
        """How many sales invoices carry this external document number (should be 0 or 1)."""
        return len(self.books[company_id].invoices.with_external([external_document_number]))


def add_sales_line(
    book: CompanyBook,
    document: SalesDocument,
    values: dict[str, Any],
) -> SalesInvoiceLine:
    """A line priced and taxed from the line's tax group, added to a draft document."""
    last = max((line.sequence for line in document.lines), default=0)
    sequence = values.get("sequence", last + LINE_NUMBER_STEP)
    if any(line.sequence == sequence for line in document.lines):
        raise BcFault(
            400,
            "Internal_EntityWithSameKeyExists",
            "The Sales Line already exists. Identification fields and values: Document "
            f"Type='{document.kind.line_document_type}',Document No.='{document.number}',"
            f"Line No.='{sequence}'",
        )
    tax_code = values.get("taxCode", "")
    percent = ZERO
    if tax_code:
        group = book.tax_groups.get(tax_code)
        if group is None:
            raise BcFault(
                400,
                "Internal_InvalidTableRelation",
                f"The field Tax Group Code of table Sales Line contains a value ({tax_code}) "
                "that cannot be found in the related table (Tax Group).",
            )
        percent = group.percent
    line_type = values.get("lineType", "Account")
    account_id = values.get("accountId", "").lower() or EMPTY_GUID
    account_number = "" if account_id == EMPTY_GUID else book.account_number(account_id)
    if account_number is None or (account_number and line_type != "Account"):
        raise BcFault(
            400,
            "Internal_InvalidTableRelation",
            f"The field No. of table Sales Line contains a value ({account_id}) that cannot be "
            "found in the related table (G/L Account).",
        )
    quantity = values.get("quantity", ZERO)
    unit_price = values.get("unitPrice", ZERO)
    amount = round_amount(quantity * unit_price, document.currency_code)
    line = SalesInvoiceLine(
        document_id=document.id,
        sequence=sequence,
        line_type=line_type,
        account_id=account_id,
        account_number=account_number,
        description=values.get("description", ""),
        quantity=quantity,
        unit_price=unit_price,
        tax_code=tax_code,
        tax_percent=percent,
        amount_excluding_tax=amount,
        total_tax_amount=round_amount(amount * percent / 100, document.currency_code),
    )
    document.lines.append(line)
    document.lines.sort(key=lambda item: item.sequence)
    return line


def settle(invoice: SalesInvoice, amount: Decimal) -> None:
    """Apply a payment or a credit memo: the invoice owes less, and is paid at zero.

    A negative amount (a payment's reversing entry) un-applies: the invoice owes more,
    and is open again.
    """
    invoice.remaining_amount -= amount
    invoice.status = "Paid" if invoice.remaining_amount == ZERO else "Open"
    invoice.touch()
