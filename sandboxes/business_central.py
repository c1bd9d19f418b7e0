"""A Dynamics 365 Business Central (API v1.0) sandbox: BC's wire format, in memory.

Serves `/v2.0/{environment}/api/v1.0/...` for companies, currencies, customers, tax
groups, sales invoices and sales credit memos with their lines and their
`Microsoft.NAV.post` actions, general journals with their lines and post action,
general ledger entries, and customer payment journals with their payments, seeded
from the demo estate. It keeps BC's rules that matter to the gateway: `@odata.etag`
and `If-Match` on updates, lines that compute their own tax from the line's tax
group, posting that assigns a posted number and refuses closed periods, and one
document per external document number.

Money moves the way the gateway relies on:

- a posted invoice owes its total (`remainingAmount`); a credit memo that refers to
  it (`invoiceId` or `invoiceNumber`, which must be a posted invoice of the same
  customer and currency) is refused at posting when its total exceeds what the
  invoice still owes, and posting applies it: the invoice owes that much less. An
  invoice that owes nothing is `Paid`, and so is a memo applied in full.
- posting a journal writes general ledger entries and empties the journal. A
  journal with a balancing account balances every line against it (one entry per
  line and one opposite entry on the balancing account); without one, the lines
  of each document number and posting date must add up to zero, or the post is
  refused with BC's "out of balance" message. Lines may only use the accounts of
  the demo chart (`CHART_OF_ACCOUNTS`) and the `G/L Account` account type.
- API v1.0 has no post action for customer payment journals: in BC a payment line
  waits until someone posts the journal. The sandbox posts each payment as it is
  created, so a payment that applies to an invoice (`appliesToInvoiceId` or
  `appliesToInvoiceNumber`) must be positive, dated in an open period, for the
  invoice's customer and no more than the invoice still owes; it reduces what the
  invoice owes at once. No ledger entries are written for payments.

Lists take `$top` and `$skip`. `$filter` takes comparisons (`eq`, `ne`, `gt`, `ge`,
`lt`, `le`) of one property with a quoted text, a date (`2025-06-01`) or an integer,
joined by `and`. No list is ever cut short by the server, so no `@odata.nextLink` is
sent.

Refusals use BC's OData error body `{"error": {"code", "message"}}`, BC's documented
error codes and, where BC has one, BC's own message text (with BC's
`CorrelationId` suffix):

- closed period (posting date before the first open day): 400
  `Application_DialogException`, "Posting Date is not within your range of allowed
  posting dates."
- a credit memo over what its invoice owes, an unbalanced journal, a payment the
  invoice cannot take: 400 `Application_DialogException`
- posting a draft without lines: 400 `Application_DialogException`, "There is
  nothing to post."
- changing a posted invoice or adding lines to it, an invoice without customer:
  400 `Application_DialogException`
- unknown tax group, currency or G/L account in a body: 400
  `Internal_InvalidTableRelation`
- unknown customer number or invoice in a body: 400 `Internal_RecordNotFound`
- customer number, line sequence, journal code or journal line number already
  taken: 400 `Internal_EntityWithSameKeyExists`
- text longer than its field: 400 `Application_StringExceededLength`
- malformed body, unknown property, unsupported `$filter`, `$expand`, `$top` or
  `$skip`: 400 `BadRequest`
- PATCH without `If-Match`: 400 `BadRequest_InvalidToken`; an `If-Match` that is
  not the current etag: 412 `Request_EntityChanged`
- unknown company: 404 `Internal_CompanyNotFound`; unknown customer, document,
  journal or journal line id: 404 `Internal_RecordNotFound`; unknown path or method: 404
  `BadRequest_ResourceNotFound` / 405 `BadRequest_MethodNotAllowed`

Dates are written as date-time strings (midnight UTC), as the v1.0 OpenAPI document
declares, and read in either form. Creating a sales invoice or credit memo whose
external document number exists answers `201` with the existing document (the only
status the document declares for the create) instead of making a second one. Such
repeated creates are counted and served at `GET /_sandbox/repeated-creates`: a
gateway that looks before it writes sends none, and the reliability harness checks
that it relied on this rule for none of its documents.
"""

from __future__ import annotations

import base64
import itertools
import json
import operator
import re
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from core.currencies import is_known_currency, minor_unit_exponent
from sandboxes.demo_estate import DEMO_COMPANIES, DemoCompany, first_open_day
from sandboxes.faults import install_faults

API_ROOT = "/v2.0/{environment}/api/v1.0"
REPEATED_CREATES_PATH = "/_sandbox/repeated-creates"

TAX_PERCENT: dict[tuple[str, str], Decimal] = {
    ("US", "STANDARD"): Decimal("8.875"),
    ("US", "EXEMPT"): Decimal("0"),
    ("DE", "STANDARD"): Decimal("19"),
    ("DE", "REDUCED"): Decimal("7"),
    ("DE", "REVERSE"): Decimal("0"),
}
"""Tax rate in percent per (company country, tax group code) of the demo estate."""

FIRST_DRAFT_NUMBER = 102001
FIRST_POSTED_NUMBER = 103001
FIRST_MEMO_DRAFT_NUMBER = 104001
FIRST_MEMO_POSTED_NUMBER = 105001
FIRST_PAYMENT_NUMBER = 1
LINE_NUMBER_STEP = 10000
ZERO = Decimal(0)
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
GL_ACCOUNT = "G/L Account"

CURRENCIES: dict[str, tuple[str, str]] = {
    "USD": ("US Dollar", "$"),
    "EUR": ("Euro", "€"),
    "GBP": ("Pound Sterling", "£"),
}
"""The currencies every demo company keeps: code, display name and symbol."""

CHART_OF_ACCOUNTS: dict[str, str] = {
    "10100": "Checking Account",
    "13100": "Accounts Receivable",
    "21500": "Partner Commissions Payable",
    "40100": "Subscription Revenue",
    "60100": "Partner Commissions",
}
"""The G/L accounts of every demo company, by number."""

_CONDITION = re.compile(r"(\w+)\s+(eq|ne|gt|ge|lt|le)\s+('(?:[^']|'')*'|\d{4}-\d{2}-\d{2}|-?\d+)")
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}


class BcFault(Exception):
    """A refusal rendered as BC's OData error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _now() -> datetime:
    return datetime.now(UTC)


def _wire_datetime(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _wire_date(value: date) -> str:
    return f"{value.isoformat()}T00:00:00Z"


def _etag(entity_id: str, version: int) -> str:
    token = base64.b64encode(f"'{version};{entity_id}'".encode()).decode()
    return f'W/"{token}"'


@dataclass
class TaxGroup:
    id: str
    code: str
    percent: Decimal
    tax_type: str

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "code": self.code,
            "displayName": f"{self.code.title()} ({self.percent.normalize()}%)",
            "taxType": self.tax_type,
            "lastModifiedDateTime": "2024-01-01T00:00:00Z",
        }


@dataclass
class Customer:
    id: str
    number: str
    display_name: str
    email: str
    currency_code: str
    version: int = 1
    modified: datetime = field(default_factory=_now)

    @property
    def etag(self) -> str:
        return _etag(self.id, self.version)

    def wire(self) -> dict[str, Any]:
        return {
            "@odata.etag": self.etag,
            "id": self.id,
            "number": self.number,
            "displayName": self.display_name,
            "type": "Company",
            "phoneNumber": "",
            "email": self.email,
            "website": "",
            "taxLiable": False,
            "currencyCode": self.currency_code,
            "blocked": " ",
            "lastModifiedDateTime": _wire_datetime(self.modified),
        }


@dataclass
class SalesInvoiceLine:
    document_id: str
    sequence: int
    line_type: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_code: str
    tax_percent: Decimal
    amount_excluding_tax: Decimal
    total_tax_amount: Decimal

    @property
    def id(self) -> str:
        return f"{self.document_id}-{self.sequence}"

    @property
    def amount_including_tax(self) -> Decimal:
        return self.amount_excluding_tax + self.total_tax_amount

    def wire(self) -> dict[str, Any]:
        return {
            "@odata.etag": _etag(self.id, 1),
            "id": self.id,
            "documentId": self.document_id,
            "sequence": self.sequence,
            "lineType": self.line_type,
            "description": self.description,
            "unitPrice": self.unit_price,
            "quantity": self.quantity,
            "discountAmount": ZERO,
            "discountPercent": ZERO,
            "discountAppliedBeforeTax": False,
            "amountExcludingTax": self.amount_excluding_tax,
            "taxCode": self.tax_code,
            "taxPercent": self.tax_percent,
            "totalTaxAmount": self.total_tax_amount,
            "amountIncludingTax": self.amount_including_tax,
            "netAmount": self.amount_excluding_tax,
            "netTaxAmount": self.total_tax_amount,
            "netAmountIncludingTax": self.amount_including_tax,
        }


@dataclass
class SalesInvoice:
    id: str
    number: str
    external_document_number: str
    customer: Customer
    currency_code: str
    invoice_date: date
    due_date: date
    status: str = "Draft"
    lines: list[SalesInvoiceLine] = field(default_factory=list)
    remaining_amount: Decimal = ZERO
    version: int = 1
    modified: datetime = field(default_factory=_now)

    @property
    def etag(self) -> str:
        return _etag(self.id, self.version)

    @property
    def total_excluding_tax(self) -> Decimal:
        return sum((line.amount_excluding_tax for line in self.lines), ZERO)

    @property
    def total_tax(self) -> Decimal:
        return sum((line.total_tax_amount for line in self.lines), ZERO)

    @property
    def total_including_tax(self) -> Decimal:
        return self.total_excluding_tax + self.total_tax

    def touch(self) -> None:
        self.version += 1
        self.modified = _now()

    def wire(self, *, expand_lines: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "@odata.etag": self.etag,
            "id": self.id,
            "number": self.number,
            "externalDocumentNumber": self.external_document_number,
            "invoiceDate": _wire_date(self.invoice_date),
            "dueDate": _wire_date(self.due_date),
            "customerId": self.customer.id,
            "customerNumber": self.customer.number,
            "customerName": self.customer.display_name,
            "billToCustomerId": self.customer.id,
            "billToCustomerNumber": self.customer.number,
            "billToName": self.customer.display_name,
            "currencyCode": self.currency_code,
            "pricesIncludeTax": False,
            "remainingAmount": self.remaining_amount,
            "discountAmount": ZERO,
            "discountAppliedBeforeTax": True,
            "totalAmountExcludingTax": self.total_excluding_tax,
            "totalTaxAmount": self.total_tax,
            "totalAmountIncludingTax": self.total_including_tax,
            "status": self.status,
            "lastModifiedDateTime": _wire_datetime(self.modified),
            "phoneNumber": "",
            "email": self.customer.email,
        }
        if expand_lines:
            body["salesInvoiceLines"] = [line.wire() for line in self.lines]
        return body


@dataclass
class SalesCreditMemo:
    id: str
    number: str
    external_document_number: str
    customer: Customer
    currency_code: str
    credit_memo_date: date
    due_date: date
    invoice: SalesInvoice | None = None
    status: str = "Draft"
    lines: list[SalesInvoiceLine] = field(default_factory=list)
    version: int = 1
    modified: datetime = field(default_factory=_now)

    @property
    def etag(self) -> str:
        return _etag(self.id, self.version)

    @property
    def total_excluding_tax(self) -> Decimal:
        return sum((line.amount_excluding_tax for line in self.lines), ZERO)

    @property
    def total_tax(self) -> Decimal:
        return sum((line.total_tax_amount for line in self.lines), ZERO)

    @property
    def total_including_tax(self) -> Decimal:
        return self.total_excluding_tax + self.total_tax

    def touch(self) -> None:
        self.version += 1
        self.modified = _now()

    def wire(self, *, expand_lines: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "@odata.etag": self.etag,
            "id": self.id,
            "number": self.number,
            "externalDocumentNumber": self.external_document_number,
            "creditMemoDate": _wire_date(self.credit_memo_date),
            "dueDate": _wire_date(self.due_date),
            "customerId": self.customer.id,
            "customerNumber": self.customer.number,
            "customerName": self.customer.display_name,
            "billToCustomerId": self.customer.id,
            "billToCustomerNumber": self.customer.number,
            "billToName": self.customer.display_name,
            "currencyCode": self.currency_code,
            "pricesIncludeTax": False,
            "discountAmount": ZERO,
            "discountAppliedBeforeTax": True,
            "totalAmountExcludingTax": self.total_excluding_tax,
            "totalTaxAmount": self.total_tax,
            "totalAmountIncludingTax": self.total_including_tax,
            "status": self.status,
            "lastModifiedDateTime": _wire_datetime(self.modified),
            "invoiceId": self.invoice.id if self.invoice else EMPTY_GUID,
            "invoiceNumber": self.invoice.number if self.invoice else "",
            "phoneNumber": "",
            "email": self.customer.email,
        }
        if expand_lines:
            body["salesCreditMemoLines"] = [line.wire() for line in self.lines]
        return body


@dataclass
class JournalLine:
    id: str
    journal_code: str
    line_number: int
    account_number: str
    account_id: str
    posting_date: date
    document_number: str
    external_document_number: str
    amount: Decimal
    description: str
    version: int = 1
    modified: datetime = field(default_factory=_now)

    @property
    def etag(self) -> str:
        return _etag(self.id, self.version)

    def wire(self) -> dict[str, Any]:
        return {
            "@odata.etag": self.etag,
            "id": self.id,
            "journalDisplayName": self.journal_code,
            "lineNumber": self.line_number,
            "accountType": GL_ACCOUNT,
            "accountId": self.account_id,
            "accountNumber": self.account_number,
            "postingDate": _wire_date(self.posting_date),
            "documentNumber": self.document_number,
            "externalDocumentNumber": self.external_document_number,
            "amount": self.amount,
            "description": self.description,
            "comment": "",
            "dimensions": [],
            "lastModifiedDateTime": _wire_datetime(self.modified),
        }


@dataclass
class CustomerPayment:
    id: str
    journal_code: str
    line_number: int
    customer: Customer
    posting_date: date
    document_number: str
    external_document_number: str
    amount: Decimal
    invoice: SalesInvoice | None
    description: str
    modified: datetime = field(default_factory=_now)

    def wire(self) -> dict[str, Any]:
        return {
            "@odata.etag": _etag(self.id, 1),
            "id": self.id,
            "journalDisplayName": self.journal_code,
            "lineNumber": self.line_number,
            "customerId": self.customer.id,
            "customerNumber": self.customer.number,
            "contactId": "",
            "postingDate": _wire_date(self.posting_date),
            "documentNumber": self.document_number,
            "externalDocumentNumber": self.external_document_number,
            "amount": self.amount,
            "appliesToInvoiceId": self.invoice.id if self.invoice else EMPTY_GUID,
            "appliesToInvoiceNumber": self.invoice.number if self.invoice else "",
            "description": self.description,
            "comment": "",
            "dimensions": [],
            "lastModifiedDateTime": _wire_datetime(self.modified),
        }


@dataclass
class Journal:
    """A general journal batch, or a customer payment journal (which holds `payments`)."""

    id: str
    code: str
    display_name: str
    balancing_account_number: str
    balancing_account_id: str
    lines: list[JournalLine] = field(default_factory=list)
    payments: list[CustomerPayment] = field(default_factory=list)
    version: int = 1
    modified: datetime = field(default_factory=_now)

    @property
    def etag(self) -> str:
        return _etag(self.id, self.version)

    def touch(self) -> None:
        self.version += 1
        self.modified = _now()

    def wire(self) -> dict[str, Any]:
        return {
            "@odata.etag": self.etag,
            "id": self.id,
            "code": self.code,
            "displayName": self.display_name,
            "lastModifiedDateTime": _wire_datetime(self.modified),
            "balancingAccountId": self.balancing_account_id,
            "balancingAccountNumber": self.balancing_account_number,
        }


@dataclass
class GeneralLedgerEntry:
    id: int
    posting_date: date
    document_number: str
    account_number: str
    account_id: str
    description: str
    debit_amount: Decimal
    credit_amount: Decimal
    modified: datetime = field(default_factory=_now)

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "postingDate": _wire_date(self.posting_date),
            "documentNumber": self.document_number,
            "documentType": "",
            "accountId": self.account_id,
            "accountNumber": self.account_number,
            "description": self.description,
            "debitAmount": self.debit_amount,
            "creditAmount": self.credit_amount,
            "dimensions": [],
            "lastModifiedDateTime": _wire_datetime(self.modified),
        }


@dataclass
class CompanyBook:
    """One company's records and number series."""

    company: DemoCompany
    tax_groups: dict[str, TaxGroup]
    customers: dict[str, Customer] = field(default_factory=dict)
    invoices: dict[str, SalesInvoice] = field(default_factory=dict)
    credit_memos: dict[str, SalesCreditMemo] = field(default_factory=dict)
    journals: dict[str, Journal] = field(default_factory=dict)
    payment_journals: dict[str, Journal] = field(default_factory=dict)
    ledger: list[GeneralLedgerEntry] = field(default_factory=list)
    next_draft_number: int = FIRST_DRAFT_NUMBER
    next_posted_number: int = FIRST_POSTED_NUMBER
    next_memo_draft_number: int = FIRST_MEMO_DRAFT_NUMBER
    next_memo_posted_number: int = FIRST_MEMO_POSTED_NUMBER
    next_payment_number: int = FIRST_PAYMENT_NUMBER

    def record_id(self, kind: str, key: str) -> str:
        """A stable id for a seeded record (account, currency) of this company."""
        return str(uuid.uuid5(uuid.UUID(self.company.id), f"{kind}/{key}"))

    def account_id(self, number: str) -> str:
        return self.record_id("account", number) if number else EMPTY_GUID

    def post_entry(self, line: JournalLine, account_number: str, amount: Decimal) -> None:
        """One general ledger entry: a debit when `amount` is positive, a credit otherwise."""
        self.ledger.append(
            GeneralLedgerEntry(
                id=len(self.ledger) + 1,
                posting_date=line.posting_date,
                document_number=line.document_number,
                account_number=account_number,
                account_id=self.account_id(account_number),
                description=line.description,
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
            self.books[company.id] = CompanyBook(company=company, tax_groups=taxes)

    def first_open_day(self) -> date:
        return first_open_day(self.today)

    def posted_invoices(self, company_id: str) -> list[SalesInvoice]:
        return [i for i in self.books[company_id].invoices.values() if i.status != "Draft"]

    def ledger(self, company_id: str) -> list[GeneralLedgerEntry]:
        return list(self.books[company_id].ledger)

    def credit_memo_count(self, company_id: str, external_document_number: str) -> int:
        """How many credit memos carry this external document number (should be 0 or 1)."""
        return sum(
            1
            for memo in self.books[company_id].credit_memos.values()
            if memo.external_document_number == external_document_number
        )

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
            number=f"PS-INV{book.next_posted_number}",
            external_document_number=external_document_number,
            customer=customer,
            currency_code=customer.currency_code or book.company.currency,
            invoice_date=invoice_date,
            due_date=due_date,
            status="Open",
        )
        book.next_posted_number += 1
        for values in lines:
            _add_sales_line(book, invoice, "Invoice", dict(values))
        invoice.remaining_amount = invoice.total_including_tax
        if paid:
            _settle(invoice, invoice.remaining_amount)
        book.invoices[invoice.id] = invoice
        return invoice

    def document_count(self, company_id: str, external_document_number: str) -> int:
        """How many sales invoices carry this external document number (should be 0 or 1)."""
        return sum(
            1
            for invoice in self.books[company_id].invoices.values()
            if invoice.external_document_number == external_document_number
        )


@dataclass(frozen=True)
class _Field:
    kind: str  # "text", "int", "number" or "date"
    max_length: int | None = None
    edm: str = "Edm.String"


_CUSTOMER_FIELDS = {
    "number": _Field("text", 20),
    "displayName": _Field("text", 100),
    "email": _Field("text", 80),
    "currencyCode": _Field("text", 10),
}
_INVOICE_CREATE_FIELDS = {
    "externalDocumentNumber": _Field("text", 35),
    "customerNumber": _Field("text", 20),
    "customerId": _Field("text", 36),
    "currencyCode": _Field("text", 10),
    "invoiceDate": _Field("date", edm="Edm.Date"),
    "dueDate": _Field("date", edm="Edm.Date"),
}
_INVOICE_UPDATE_FIELDS = {
    "invoiceDate": _Field("date", edm="Edm.Date"),
    "dueDate": _Field("date", edm="Edm.Date"),
}
_LINE_FIELDS = {
    "sequence": _Field("int", edm="Edm.Int32"),
    "lineType": _Field("text", 20),
    "description": _Field("text", 100),
    "quantity": _Field("number", edm="Edm.Decimal"),
    "unitPrice": _Field("number", edm="Edm.Decimal"),
    "taxCode": _Field("text", 50),
}


def _convert(spec: _Field, value: Any) -> Any:
    def refuse() -> BcFault:
        return BcFault(
            400,
            "BadRequest",
            f"Cannot convert the literal '{value}' to the expected type '{spec.edm}'.",
        )

    if spec.kind == "text":
        if not isinstance(value, str):
            raise refuse()
        if spec.max_length is not None and len(value) > spec.max_length:
            raise BcFault(
                400,
                "Application_StringExceededLength",
                f"The length of the string is {len(value)}, but it must be less than or equal "
                f"to {spec.max_length} characters. Value: {value}",
            )
        return value
    if spec.kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise refuse()
        return value
    if spec.kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise refuse()
        return Decimal(value)
    if not isinstance(value, str):
        raise refuse()
    try:
        return datetime.fromisoformat(value).date() if "T" in value else date.fromisoformat(value)
    except ValueError:
        raise refuse() from None


async def _read_body(request: Request, entity: str, fields: dict[str, _Field]) -> dict[str, Any]:
    try:
        data = json.loads(await request.body(), parse_float=Decimal)
    except ValueError:
        raise BcFault(400, "BadRequest", "Invalid Request Body") from None
    if not isinstance(data, dict):
        raise BcFault(400, "BadRequest", "Invalid Request Body")
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name not in fields:
            raise BcFault(
                400,
                "BadRequest",
                f"The property '{name}' does not exist on type 'Microsoft.NAV.{entity}'. Make "
                "sure to only use property names that are defined by the type.",
            )
        values[name] = _convert(fields[name], value)
    return values


Condition = tuple[str, str, Any]
R = TypeVar("R")
Filterable = Mapping[str, Callable[[R], Any]]
"""The properties a list can be filtered on, each with how to read it off a record."""

_AND = re.compile(r"\s+and\s+")


_MEMO_CREATE_FIELDS = {
    "externalDocumentNumber": _Field("text", 35),
    "customerNumber": _Field("text", 20),
    "customerId": _Field("text", 36),
    "currencyCode": _Field("text", 10),
    "creditMemoDate": _Field("date", edm="Edm.Date"),
    "dueDate": _Field("date", edm="Edm.Date"),
    "invoiceId": _Field("text", 36),
    "invoiceNumber": _Field("text", 20),
}
_MEMO_UPDATE_FIELDS = {
    "creditMemoDate": _Field("date", edm="Edm.Date"),
    "dueDate": _Field("date", edm="Edm.Date"),
}
_JOURNAL_FIELDS = {
    "code": _Field("text", 10),
    "displayName": _Field("text", 100),
    "balancingAccountNumber": _Field("text", 20),
}
_JOURNAL_LINE_UPDATE_FIELDS = {
    "accountNumber": _Field("text", 20),
    "postingDate": _Field("date", edm="Edm.Date"),
    "documentNumber": _Field("text", 20),
    "externalDocumentNumber": _Field("text", 35),
    "amount": _Field("number", edm="Edm.Decimal"),
    "description": _Field("text", 100),
}
_JOURNAL_LINE_FIELDS = {
    "lineNumber": _Field("int", edm="Edm.Int32"),
    "accountType": _Field("text", 30),
    **_JOURNAL_LINE_UPDATE_FIELDS,
}
_PAYMENT_FIELDS = {
    "lineNumber": _Field("int", edm="Edm.Int32"),
    "customerId": _Field("text", 36),
    "customerNumber": _Field("text", 20),
    "postingDate": _Field("date", edm="Edm.Date"),
    "documentNumber": _Field("text", 20),
    "externalDocumentNumber": _Field("text", 35),
    "amount": _Field("number", edm="Edm.Decimal"),
    "appliesToInvoiceId": _Field("text", 36),
    "appliesToInvoiceNumber": _Field("text", 20),
    "description": _Field("text", 100),
}

_CUSTOMER_PROPERTIES: Filterable[Customer] = {"number": lambda c: c.number}
_INVOICE_PROPERTIES: Filterable[SalesInvoice] = {
    "externalDocumentNumber": lambda i: i.external_document_number,
    "number": lambda i: i.number,
    "invoiceDate": lambda i: i.invoice_date,
    "status": lambda i: i.status,
}
_MEMO_PROPERTIES: Filterable[SalesCreditMemo] = {
    "externalDocumentNumber": lambda m: m.external_document_number,
    "number": lambda m: m.number,
    "creditMemoDate": lambda m: m.credit_memo_date,
    "status": lambda m: m.status,
}
_JOURNAL_PROPERTIES: Filterable[Journal] = {"code": lambda j: j.code}
_JOURNAL_LINE_PROPERTIES: Filterable[JournalLine] = {
    "lineNumber": lambda line: line.line_number,
    "documentNumber": lambda line: line.document_number,
    "externalDocumentNumber": lambda line: line.external_document_number,
    "postingDate": lambda line: line.posting_date,
}
_LEDGER_PROPERTIES: Filterable[GeneralLedgerEntry] = {
    "documentNumber": lambda e: e.document_number,
    "accountNumber": lambda e: e.account_number,
    "postingDate": lambda e: e.posting_date,
}
_PAYMENT_PROPERTIES: Filterable[CustomerPayment] = {
    "lineNumber": lambda p: p.line_number,
    "documentNumber": lambda p: p.document_number,
    "externalDocumentNumber": lambda p: p.external_document_number,
    "postingDate": lambda p: p.posting_date,
}
_CURRENCY_PROPERTIES: Filterable[str] = {"code": lambda code: code}


def _refuse_filter(expression: str) -> BcFault:
    return BcFault(
        400,
        "BadRequest",
        "The sandbox only understands <property> <eq|ne|gt|ge|lt|le> <'text'|date|integer> "
        f"joined by 'and': {expression}",
    )


def _literal(token: str, expression: str) -> str | date | int:
    if token.startswith("'"):
        return token[1:-1].replace("''", "'")
    if "-" in token[1:]:
        try:
            return date.fromisoformat(token)
        except ValueError:
            raise _refuse_filter(expression) from None
    return int(token)


def _odata_filter(request: Request, entity: str, allowed: Iterable[str]) -> list[Condition]:
    """The comparisons of `$filter`, all of which a record must meet."""
    expression = request.query_params.get("$filter")
    if expression is None:
        return []
    text, position, conditions = expression.strip(), 0, []
    while True:
        match = _CONDITION.match(text, position)
        if match is None:
            raise _refuse_filter(expression)
        name, op, token = match.groups()
        if name not in allowed:
            raise BcFault(
                400,
                "BadRequest",
                f"Could not find a property named '{name}' on type 'Microsoft.NAV.{entity}'.",
            )
        conditions.append((name, op, _literal(token, expression)))
        position = match.end()
        if position == len(text):
            return conditions
        joiner = _AND.match(text, position)
        if joiner is None:
            raise _refuse_filter(expression)
        position = joiner.end()


def _meets(conditions: list[Condition], record: R, properties: Filterable[R]) -> bool:
    for name, op, literal in conditions:
        value = properties[name](record)
        if type(value) is not type(literal):
            raise BcFault(
                400,
                "BadRequest",
                f"A binary operator with incompatible types was detected for '{name}'.",
            )
        if not _COMPARE[op](value, literal):
            return False
    return True


def _count_option(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise BcFault(400, "BadRequest", f"Invalid value '{raw}' for the {name} query option.")
    return int(raw)


def _select(
    request: Request, entity: str, records: Iterable[R], properties: Filterable[R]
) -> list[R]:
    """The records `$filter` keeps, then the page `$skip` and `$top` ask for.

    The scan stops at the page's last record: paging through a large ledger would
    otherwise test every record for every page.
    """
    conditions = _odata_filter(request, entity, properties)
    skip = _count_option(request, "$skip") or 0
    top = _count_option(request, "$top")
    chosen = (record for record in records if _meets(conditions, record, properties))
    return list(itertools.islice(chosen, skip, None if top is None else skip + top))


def _expand(request: Request, navigation: str) -> bool:
    """Whether `$expand` asks for `navigation`, the only one the sandbox can expand."""
    expand = request.query_params.get("$expand")
    if expand is None:
        return False
    requested = {part.strip() for part in expand.split(",")}
    if requested - {navigation}:
        raise BcFault(400, "BadRequest", f"The sandbox cannot expand {expand!r}.")
    return True


def _check_etag(request: Request, current: str) -> None:
    given = request.headers.get("If-Match")
    if given is None:
        raise BcFault(
            400,
            "BadRequest_InvalidToken",
            "Could not validate the client concurrency token required by the service. "
            "Please provide a valid token in the client request.",
        )
    if given not in ("*", current):
        raise BcFault(412, "Request_EntityChanged", "Another user has already changed the record.")


def _round(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-minor_unit_exponent(currency)), ROUND_HALF_UP)


def _render(value: Any) -> int | float:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"cannot render {type(value).__name__} as JSON")


class ODataResponse(JSONResponse):
    """JSON with BC's decimals as JSON numbers."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, default=_render, separators=(",", ":")).encode()


class _Api:
    """The request handlers, bound to one `BusinessCentralState`."""

    def __init__(self, state: BusinessCentralState) -> None:
        self.state = state

    async def repeated_creates(self, _request: Request) -> Response:
        """Sandbox only: external document numbers created again, with how often."""
        return JSONResponse(dict(self.state.repeated_creates))

    def _book(self, request: Request) -> CompanyBook:
        company_id = request.path_params["company_id"].lower()
        book = self.state.books.get(company_id)
        if book is None:
            raise BcFault(
                404,
                "Internal_CompanyNotFound",
                f"Cannot process the request because the company '{company_id}' cannot be found.",
            )
        return book

    def _customer(self, book: CompanyBook, customer_id: str) -> Customer:
        customer = book.customers.get(customer_id.lower())
        if customer is None:
            raise BcFault(
                404,
                "Internal_RecordNotFound",
                "The Customer does not exist. Identification fields and values: "
                f"Id='{customer_id}'",
            )
        return customer

    def _invoice(self, request: Request) -> tuple[CompanyBook, SalesInvoice]:
        book = self._book(request)
        invoice_id = request.path_params["invoice_id"].lower()
        invoice = book.invoices.get(invoice_id)
        if invoice is None:
            raise BcFault(
                404,
                "Internal_RecordNotFound",
                "The Sales Header does not exist. Identification fields and values: "
                f"Id='{invoice_id}'",
            )
        return book, invoice

    async def list_companies(self, _request: Request) -> Response:
        return ODataResponse({"value": [book.wire() for book in self.state.books.values()]})

    async def get_company(self, request: Request) -> Response:
        return ODataResponse(self._book(request).wire())

    async def list_tax_groups(self, request: Request) -> Response:
        book = self._book(request)
        return ODataResponse({"value": [group.wire() for group in book.tax_groups.values()]})

    async def list_customers(self, request: Request) -> Response:
        book = self._book(request)
        customers = _select(request, "customer", book.customers.values(), _CUSTOMER_PROPERTIES)
        return ODataResponse({"value": [customer.wire() for customer in customers]})

    async def create_customer(self, request: Request) -> Response:
        book = self._book(request)
        values = await _read_body(request, "customer", _CUSTOMER_FIELDS)
        number = values.get("number") or f"C{len(book.customers) + 1:05d}"
        if any(c.number == number for c in book.customers.values()):
            raise BcFault(
                400,
                "Internal_EntityWithSameKeyExists",
                f"The Customer already exists. Identification fields and values: No.='{number}'",
            )
        currency = values.get("currencyCode", "")
        _check_currency(currency, "Customer")
        customer = Customer(
            id=str(uuid.uuid4()),
            number=number,
            display_name=values.get("displayName", ""),
            email=values.get("email", ""),
            currency_code=currency,
        )
        book.customers[customer.id] = customer
        return ODataResponse(customer.wire(), status_code=201)

    async def get_customer(self, request: Request) -> Response:
        book = self._book(request)
        return ODataResponse(self._customer(book, request.path_params["customer_id"]).wire())

    async def update_customer(self, request: Request) -> Response:
        book = self._book(request)
        customer = self._customer(book, request.path_params["customer_id"])
        _check_etag(request, customer.etag)
        values = await _read_body(request, "customer", _CUSTOMER_FIELDS)
        number = values.get("number", customer.number)
        if number != customer.number and any(c.number == number for c in book.customers.values()):
            raise BcFault(
                400,
                "Internal_EntityWithSameKeyExists",
                f"The Customer already exists. Identification fields and values: No.='{number}'",
            )
        currency = values.get("currencyCode", customer.currency_code)
        _check_currency(currency, "Customer")
        customer.number = number
        customer.display_name = values.get("displayName", customer.display_name)
        customer.email = values.get("email", customer.email)
        customer.currency_code = currency
        customer.version += 1
        customer.modified = _now()
        return ODataResponse(customer.wire())

    async def list_sales_invoices(self, request: Request) -> Response:
        book = self._book(request)
        expand = _expand(request, "salesInvoiceLines")
        invoices = _select(request, "salesInvoice", book.invoices.values(), _INVOICE_PROPERTIES)
        return ODataResponse({"value": [i.wire(expand_lines=expand) for i in invoices]})

    async def create_sales_invoice(self, request: Request) -> Response:
        book = self._book(request)
        values = await _read_body(request, "salesInvoice", _INVOICE_CREATE_FIELDS)
        external = values.get("externalDocumentNumber", "")
        if external:
            for existing in book.invoices.values():
                if existing.external_document_number == external:
                    self.state.repeated_creates[external] += 1
                    return ODataResponse(existing.wire(), status_code=201)
        customer = _invoice_customer(book, values)
        currency = values.get("currencyCode") or customer.currency_code or book.company.currency
        _check_currency(currency, "Sales Header")
        invoice_date = values.get("invoiceDate") or self._today()
        invoice = SalesInvoice(
            id=str(uuid.uuid4()),
            number=f"S-INV{book.next_draft_number}",
            external_document_number=external,
            customer=customer,
            currency_code=currency,
            invoice_date=invoice_date,
            due_date=values.get("dueDate") or invoice_date,
        )
        book.next_draft_number += 1
        book.invoices[invoice.id] = invoice
        return ODataResponse(invoice.wire(), status_code=201)

    async def get_sales_invoice(self, request: Request) -> Response:
        _, invoice = self._invoice(request)
        return ODataResponse(invoice.wire(expand_lines=_expand(request, "salesInvoiceLines")))

    async def update_sales_invoice(self, request: Request) -> Response:
        _, invoice = self._invoice(request)
        _check_etag(request, invoice.etag)
        values = await _read_body(request, "salesInvoice", _INVOICE_UPDATE_FIELDS)
        _refuse_posted(invoice)
        invoice.invoice_date = values.get("invoiceDate", invoice.invoice_date)
        invoice.due_date = values.get("dueDate", invoice.due_date)
        invoice.touch()
        return ODataResponse(invoice.wire())

    async def list_sales_invoice_lines(self, request: Request) -> Response:
        _, invoice = self._invoice(request)
        return ODataResponse({"value": [line.wire() for line in invoice.lines]})

    async def create_sales_invoice_line(self, request: Request) -> Response:
        book, invoice = self._invoice(request)
        values = await _read_body(request, "salesInvoiceLine", _LINE_FIELDS)
        _refuse_posted(invoice)
        line = _add_sales_line(book, invoice, "Invoice", values)
        invoice.touch()
        return ODataResponse(line.wire(), status_code=201)

    async def post_sales_invoice(self, request: Request) -> Response:
        book, invoice = self._invoice(request)
        if invoice.status != "Draft":
            return Response(status_code=204)
        if not invoice.lines:
            raise _nothing_to_post()
        self._check_open(invoice.invoice_date)
        invoice.number = f"PS-INV{book.next_posted_number}"
        book.next_posted_number += 1
        invoice.status = "Open"
        invoice.remaining_amount = invoice.total_including_tax
        invoice.touch()
        return Response(status_code=204)

    def _today(self) -> date:
        return self.state.today or date.today()

    def _check_open(self, posting_date: date) -> None:
        if posting_date < self.state.first_open_day():
            raise BcFault(
                400,
                "Application_DialogException",
                "Posting Date is not within your range of allowed posting dates.",
            )

    def _credit_memo(self, request: Request) -> tuple[CompanyBook, SalesCreditMemo]:
        book = self._book(request)
        memo_id = request.path_params["memo_id"].lower()
        memo = book.credit_memos.get(memo_id)
        if memo is None:
            raise BcFault(
                404,
                "Internal_RecordNotFound",
                "The Sales Header does not exist. Identification fields and values: "
                f"Id='{memo_id}'",
            )
        return book, memo

    def _journal_in(self, request: Request, journals: dict[str, Journal]) -> Journal:
        journal_id = request.path_params["journal_id"].lower()
        journal = journals.get(journal_id)
        if journal is None:
            raise BcFault(
                404,
                "Internal_RecordNotFound",
                "The Gen. Journal Batch does not exist. Identification fields and values: "
                f"Id='{journal_id}'",
            )
        return journal

    def _journal(self, request: Request) -> tuple[CompanyBook, Journal]:
        book = self._book(request)
        return book, self._journal_in(request, book.journals)

    def _payment_journal(self, request: Request) -> tuple[CompanyBook, Journal]:
        book = self._book(request)
        return book, self._journal_in(request, book.payment_journals)

    async def list_currencies(self, request: Request) -> Response:
        book = self._book(request)
        codes = _select(request, "currency", CURRENCIES, _CURRENCY_PROPERTIES)
        return ODataResponse({"value": [book.currency_wire(code) for code in codes]})

    async def list_sales_credit_memos(self, request: Request) -> Response:
        book = self._book(request)
        expand = _expand(request, "salesCreditMemoLines")
        memos = _select(request, "salesCreditMemo", book.credit_memos.values(), _MEMO_PROPERTIES)
        return ODataResponse({"value": [m.wire(expand_lines=expand) for m in memos]})

    async def create_sales_credit_memo(self, request: Request) -> Response:
        book = self._book(request)
        values = await _read_body(request, "salesCreditMemo", _MEMO_CREATE_FIELDS)
        external = values.get("externalDocumentNumber", "")
        if external:
            for existing in book.credit_memos.values():
                if existing.external_document_number == external:
                    self.state.repeated_creates[external] += 1
                    return ODataResponse(existing.wire(), status_code=201)
        customer = _invoice_customer(book, values)
        currency = values.get("currencyCode") or customer.currency_code or book.company.currency
        _check_currency(currency, "Sales Header")
        memo_date = values.get("creditMemoDate") or self._today()
        memo = SalesCreditMemo(
            id=str(uuid.uuid4()),
            number=f"S-CR{book.next_memo_draft_number}",
            external_document_number=external,
            customer=customer,
            currency_code=currency,
            credit_memo_date=memo_date,
            due_date=values.get("dueDate") or memo_date,
            invoice=_corrected_invoice(book, values, customer, currency),
        )
        book.next_memo_draft_number += 1
        book.credit_memos[memo.id] = memo
        return ODataResponse(memo.wire(), status_code=201)

    async def get_sales_credit_memo(self, request: Request) -> Response:
        _, memo = self._credit_memo(request)
        return ODataResponse(memo.wire(expand_lines=_expand(request, "salesCreditMemoLines")))

    async def update_sales_credit_memo(self, request: Request) -> Response:
        _, memo = self._credit_memo(request)
        _check_etag(request, memo.etag)
        values = await _read_body(request, "salesCreditMemo", _MEMO_UPDATE_FIELDS)
        _refuse_posted(memo)
        memo.credit_memo_date = values.get("creditMemoDate", memo.credit_memo_date)
        memo.due_date = values.get("dueDate", memo.due_date)
        memo.touch()
        return ODataResponse(memo.wire())

    async def list_sales_credit_memo_lines(self, request: Request) -> Response:
        _, memo = self._credit_memo(request)
        return ODataResponse({"value": [line.wire() for line in memo.lines]})

    async def create_sales_credit_memo_line(self, request: Request) -> Response:
        book, memo = self._credit_memo(request)
        values = await _read_body(request, "salesCreditMemoLine", _LINE_FIELDS)
        _refuse_posted(memo)
        line = _add_sales_line(book, memo, "Credit Memo", values)
        memo.touch()
        return ODataResponse(line.wire(), status_code=201)

    async def post_sales_credit_memo(self, request: Request) -> Response:
        """Post the memo; one that corrects an invoice is applied to it in the same step."""
        book, memo = self._credit_memo(request)
        if memo.status != "Draft":
            return Response(status_code=204)
        if not memo.lines:
            raise _nothing_to_post()
        self._check_open(memo.credit_memo_date)
        invoice, total = memo.invoice, memo.total_including_tax
        if invoice is not None and total > invoice.remaining_amount:
            raise BcFault(
                400,
                "Application_DialogException",
                f"The credit memo total {total} is more than the remaining amount "
                f"{invoice.remaining_amount} of sales invoice {invoice.number}.",
            )
        memo.number = f"PS-CR{book.next_memo_posted_number}"
        book.next_memo_posted_number += 1
        memo.status = "Open"
        if invoice is not None:
            _settle(invoice, total)
            memo.status = "Paid"
        memo.touch()
        return Response(status_code=204)

    async def list_journals(self, request: Request) -> Response:
        book = self._book(request)
        journals = _select(request, "journal", book.journals.values(), _JOURNAL_PROPERTIES)
        return ODataResponse({"value": [journal.wire() for journal in journals]})

    async def list_payment_journals(self, request: Request) -> Response:
        book = self._book(request)
        journals = _select(
            request, "customerPaymentJournal", book.payment_journals.values(), _JOURNAL_PROPERTIES
        )
        return ODataResponse({"value": [journal.wire() for journal in journals]})

    async def create_journal(self, request: Request) -> Response:
        book = self._book(request)
        return await _create_journal(request, book, book.journals, "journal")

    async def create_payment_journal(self, request: Request) -> Response:
        book = self._book(request)
        return await _create_journal(request, book, book.payment_journals, "customerPaymentJournal")

    async def get_journal(self, request: Request) -> Response:
        _, journal = self._journal(request)
        return ODataResponse(journal.wire())

    async def get_payment_journal(self, request: Request) -> Response:
        _, journal = self._payment_journal(request)
        return ODataResponse(journal.wire())

    async def update_journal(self, request: Request) -> Response:
        book, journal = self._journal(request)
        return await _update_journal(request, book, book.journals, journal, "journal")

    async def update_payment_journal(self, request: Request) -> Response:
        book, journal = self._payment_journal(request)
        return await _update_journal(
            request, book, book.payment_journals, journal, "customerPaymentJournal"
        )

    async def list_journal_lines(self, request: Request) -> Response:
        _, journal = self._journal(request)
        lines = _select(request, "journalLine", journal.lines, _JOURNAL_LINE_PROPERTIES)
        return ODataResponse({"value": [line.wire() for line in lines]})

    async def create_journal_line(self, request: Request) -> Response:
        book, journal = self._journal(request)
        values = await _read_body(request, "journalLine", _JOURNAL_LINE_FIELDS)
        account_type = values.get("accountType", GL_ACCOUNT)
        if account_type != GL_ACCOUNT:
            raise BcFault(
                400, "BadRequest", f"The sandbox only keeps '{GL_ACCOUNT}' lines: {account_type}"
            )
        account = values.get("accountNumber", "")
        _check_account(account, "Gen. Journal Line", required=True)
        last = max((line.line_number for line in journal.lines), default=0)
        line_number = values.get("lineNumber", last + LINE_NUMBER_STEP)
        if any(line.line_number == line_number for line in journal.lines):
            raise BcFault(
                400,
                "Internal_EntityWithSameKeyExists",
                "The Gen. Journal Line already exists. Identification fields and values: "
                f"Journal Batch Name='{journal.code}',Line No.='{line_number}'",
            )
        line = JournalLine(
            id=str(uuid.uuid4()),
            journal_code=journal.code,
            line_number=line_number,
            account_number=account,
            account_id=book.account_id(account),
            posting_date=values.get("postingDate") or self._today(),
            document_number=values.get("documentNumber", ""),
            external_document_number=values.get("externalDocumentNumber", ""),
            amount=values.get("amount", ZERO),
            description=values.get("description", ""),
        )
        journal.lines.append(line)
        journal.lines.sort(key=lambda item: item.line_number)
        return ODataResponse(line.wire(), status_code=201)

    async def update_journal_line(self, request: Request) -> Response:
        book, journal = self._journal(request)
        line_id = request.path_params["line_id"].lower()
        line = next((item for item in journal.lines if item.id == line_id), None)
        if line is None:
            raise BcFault(
                404,
                "Internal_RecordNotFound",
                "The Gen. Journal Line does not exist. Identification fields and values: "
                f"Id='{line_id}'",
            )
        _check_etag(request, line.etag)
        values = await _read_body(request, "journalLine", _JOURNAL_LINE_UPDATE_FIELDS)
        if "accountNumber" in values:
            _check_account(values["accountNumber"], "Gen. Journal Line", required=True)
            line.account_number = values["accountNumber"]
            line.account_id = book.account_id(line.account_number)
        line.posting_date = values.get("postingDate", line.posting_date)
        line.document_number = values.get("documentNumber", line.document_number)
        line.external_document_number = values.get(
            "externalDocumentNumber", line.external_document_number
        )
        line.amount = values.get("amount", line.amount)
        line.description = values.get("description", line.description)
        line.version += 1
        line.modified = _now()
        return ODataResponse(line.wire())

    async def post_journal(self, request: Request) -> Response:
        """Write the journal's lines to the ledger, balanced, and empty the journal."""
        book, journal = self._journal(request)
        if not journal.lines:
            raise _nothing_to_post()
        for line in journal.lines:
            self._check_open(line.posting_date)
        balancing = journal.balancing_account_number
        if not balancing:
            totals: dict[tuple[str, date], Decimal] = {}
            for line in journal.lines:
                key = (line.document_number, line.posting_date)
                totals[key] = totals.get(key, ZERO) + line.amount
            for (document, _day), total in totals.items():
                if total != ZERO:
                    shown = _round(total, book.company.currency)
                    raise BcFault(
                        400,
                        "Application_DialogException",
                        f"Document No. {document} is out of balance by {shown}. Please check "
                        "that Posting Date, Document Type, Document No. and Amount are correct "
                        "for each line.",
                    )
        for line in journal.lines:
            book.post_entry(line, line.account_number, line.amount)
            if balancing:
                book.post_entry(line, balancing, -line.amount)
        journal.lines.clear()
        journal.touch()
        return Response(status_code=204)

    async def list_ledger_entries(self, request: Request) -> Response:
        book = self._book(request)
        entries = _select(request, "generalLedgerEntry", book.ledger, _LEDGER_PROPERTIES)
        return ODataResponse({"value": [entry.wire() for entry in entries]})

    async def list_customer_payments(self, request: Request) -> Response:
        _, journal = self._payment_journal(request)
        payments = _select(request, "customerPayment", journal.payments, _PAYMENT_PROPERTIES)
        return ODataResponse({"value": [payment.wire() for payment in payments]})

    async def create_customer_payment(self, request: Request) -> Response:
        """Register the payment and, as the sandbox posts it at once, apply it."""
        book, journal = self._payment_journal(request)
        values = await _read_body(request, "customerPayment", _PAYMENT_FIELDS)
        customer = _invoice_customer(book, values)
        posting_date = values.get("postingDate") or self._today()
        amount = values.get("amount", ZERO)
        invoice = _paid_invoice(book, values)
        last = max((payment.line_number for payment in journal.payments), default=0)
        line_number = values.get("lineNumber", last + LINE_NUMBER_STEP)
        if any(payment.line_number == line_number for payment in journal.payments):
            raise BcFault(
                400,
                "Internal_EntityWithSameKeyExists",
                "The Gen. Journal Line already exists. Identification fields and values: "
                f"Journal Batch Name='{journal.code}',Line No.='{line_number}'",
            )
        if invoice is not None:
            self._check_open(posting_date)
            _check_payment(invoice, customer, amount)
            _settle(invoice, amount)
        document_number = values.get("documentNumber") or f"G{book.next_payment_number:05d}"
        book.next_payment_number += 1
        payment = CustomerPayment(
            id=str(uuid.uuid4()),
            journal_code=journal.code,
            line_number=line_number,
            customer=customer,
            posting_date=posting_date,
            document_number=document_number,
            external_document_number=values.get("externalDocumentNumber", ""),
            amount=amount,
            invoice=invoice,
            description=values.get("description", ""),
        )
        journal.payments.append(payment)
        return ODataResponse(payment.wire(), status_code=201)


def _check_currency(code: str, table: str) -> None:
    if code and not is_known_currency(code):
        raise BcFault(
            400,
            "Internal_InvalidTableRelation",
            f"The field Currency Code of table {table} contains a value ({code}) that cannot "
            "be found in the related table (Currency).",
        )


def _invoice_customer(book: CompanyBook, values: dict[str, Any]) -> Customer:
    if customer_id := values.get("customerId"):
        customer = book.customers.get(customer_id.lower())
        key = f"Id='{customer_id}'"
    elif number := values.get("customerNumber"):
        customer = next((c for c in book.customers.values() if c.number == number), None)
        key = f"No.='{number}'"
    else:
        raise BcFault(
            400, "Application_DialogException", "A customerNumber or a customerID must be provided."
        )
    if customer is None:
        raise BcFault(
            400,
            "Internal_RecordNotFound",
            f"The Customer does not exist. Identification fields and values: {key}",
        )
    return customer


def _nothing_to_post() -> BcFault:
    return BcFault(400, "Application_DialogException", "There is nothing to post.")


def _check_account(number: str, table: str, *, required: bool) -> None:
    if not number:
        if required:
            raise BcFault(
                400, "Application_DialogException", f"Account No. must have a value in {table}."
            )
        return
    if number not in CHART_OF_ACCOUNTS:
        raise BcFault(
            400,
            "Internal_InvalidTableRelation",
            f"The field Account No. of table {table} contains a value ({number}) that cannot "
            "be found in the related table (G/L Account).",
        )


def _add_sales_line(
    book: CompanyBook,
    document: SalesInvoice | SalesCreditMemo,
    document_type: str,
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
            f"Type='{document_type}',Document No.='{document.number}',Line No.='{sequence}'",
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
    quantity = values.get("quantity", ZERO)
    unit_price = values.get("unitPrice", ZERO)
    amount = _round(quantity * unit_price, document.currency_code)
    line = SalesInvoiceLine(
        document_id=document.id,
        sequence=sequence,
        line_type=values.get("lineType", "Account"),
        description=values.get("description", ""),
        quantity=quantity,
        unit_price=unit_price,
        tax_code=tax_code,
        tax_percent=percent,
        amount_excluding_tax=amount,
        total_tax_amount=_round(amount * percent / 100, document.currency_code),
    )
    document.lines.append(line)
    document.lines.sort(key=lambda item: item.sequence)
    return line


def _posted_invoice(book: CompanyBook, invoice_id: str, number: str) -> SalesInvoice | None:
    """The posted invoice an id or a number names; `None` when neither is given."""
    if invoice_id and invoice_id != EMPTY_GUID:
        invoice = book.invoices.get(invoice_id.lower())
        key = f"Id='{invoice_id}'"
    elif number:
        invoice = next((i for i in book.invoices.values() if i.number == number), None)
        key = f"No.='{number}'"
    else:
        return None
    if invoice is None or invoice.status == "Draft":
        raise BcFault(
            400,
            "Internal_RecordNotFound",
            f"The Sales Invoice Header does not exist. Identification fields and values: {key}",
        )
    return invoice


def _corrected_invoice(
    book: CompanyBook, values: dict[str, Any], customer: Customer, currency: str
) -> SalesInvoice | None:
    invoice = _posted_invoice(book, values.get("invoiceId", ""), values.get("invoiceNumber", ""))
    if invoice is None:
        return None
    if invoice.customer is not customer or invoice.currency_code != currency:
        raise BcFault(
            400,
            "Application_DialogException",
            f"Sales invoice {invoice.number} was issued to customer {invoice.customer.number} "
            f"in {invoice.currency_code}; the credit memo is for customer {customer.number} in "
            f"{currency}.",
        )
    return invoice


def _paid_invoice(book: CompanyBook, values: dict[str, Any]) -> SalesInvoice | None:
    return _posted_invoice(
        book, values.get("appliesToInvoiceId", ""), values.get("appliesToInvoiceNumber", "")
    )


def _check_payment(invoice: SalesInvoice, customer: Customer, amount: Decimal) -> None:
    if invoice.customer is not customer:
        raise BcFault(
            400,
            "Application_DialogException",
            f"Sales invoice {invoice.number} was issued to customer {invoice.customer.number}, "
            f"not {customer.number}.",
        )
    if amount <= ZERO or amount > invoice.remaining_amount:
        raise BcFault(
            400,
            "Application_DialogException",
            f"A payment of {_round(amount, invoice.currency_code)} cannot be applied to sales "
            f"invoice {invoice.number}, which "
            f"still owes {invoice.remaining_amount}.",
        )


def _settle(invoice: SalesInvoice, amount: Decimal) -> None:
    """Apply a payment or a credit memo: the invoice owes less, and is paid at zero."""
    invoice.remaining_amount -= amount
    if invoice.remaining_amount == ZERO:
        invoice.status = "Paid"
    invoice.touch()


async def _create_journal(
    request: Request, book: CompanyBook, journals: dict[str, Journal], entity: str
) -> Response:
    values = await _read_body(request, entity, _JOURNAL_FIELDS)
    code = values.get("code", "")
    if not code:
        raise BcFault(400, "Application_DialogException", "Name must have a value.")
    if any(journal.code == code for journal in journals.values()):
        raise BcFault(
            400,
            "Internal_EntityWithSameKeyExists",
            f"The Gen. Journal Batch already exists. Identification fields and values: "
            f"Name='{code}'",
        )
    balancing = values.get("balancingAccountNumber", "")
    _check_account(balancing, "Gen. Journal Batch", required=False)
    journal = Journal(
        id=str(uuid.uuid4()),
        code=code,
        display_name=values.get("displayName", code),
        balancing_account_number=balancing,
        balancing_account_id=book.account_id(balancing),
    )
    journals[journal.id] = journal
    return ODataResponse(journal.wire(), status_code=201)


async def _update_journal(
    request: Request,
    book: CompanyBook,
    journals: dict[str, Journal],
    journal: Journal,
    entity: str,
) -> Response:
    _check_etag(request, journal.etag)
    values = await _read_body(request, entity, _JOURNAL_FIELDS)
    code = values.get("code", journal.code)
    if code != journal.code and any(other.code == code for other in journals.values()):
        raise BcFault(
            400,
            "Internal_EntityWithSameKeyExists",
            f"The Gen. Journal Batch already exists. Identification fields and values: "
            f"Name='{code}'",
        )
    balancing = values.get("balancingAccountNumber", journal.balancing_account_number)
    _check_account(balancing, "Gen. Journal Batch", required=False)
    journal.code = code
    journal.display_name = values.get("displayName", journal.display_name)
    journal.balancing_account_number = balancing
    journal.balancing_account_id = book.account_id(balancing)
    journal.touch()
    return ODataResponse(journal.wire())


def _refuse_posted(document: SalesInvoice | SalesCreditMemo) -> None:
    if document.status != "Draft":
        kind = "Sales invoice" if isinstance(document, SalesInvoice) else "Sales credit memo"
        raise BcFault(
            400,
            "Application_DialogException",
            f"{kind} {document.number} has been posted and can no longer be changed.",
        )


def _error(status: int, code: str, message: str) -> Response:
    correlation = uuid.uuid4()
    body = {"error": {"code": code, "message": f"{message}  CorrelationId:  {correlation}."}}
    return ODataResponse(body, status_code=status)


async def _on_fault(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BcFault)
    return _error(exc.status, exc.code, exc.message)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return _error(
            405,
            "BadRequest_MethodNotAllowed",
            f"'{request.method}' requests for '{request.url.path}' are not allowed.",
        )
    return _error(
        exc.status_code,
        "BadRequest_ResourceNotFound",
        f"Resource not found for the segment '{request.url.path}'.",
    )


Handler = Callable[[Request], Awaitable[Response]]


def create_app(state: BusinessCentralState | None = None) -> Starlette:
    """The sandbox as an ASGI app; pass a `state` to inspect or seed it from tests."""
    api = _Api(state or BusinessCentralState())
    company = "/companies({company_id})"
    invoice = f"{company}/salesInvoices({{invoice_id}})"
    memo = f"{company}/salesCreditMemos({{memo_id}})"
    journal = f"{company}/journals({{journal_id}})"
    payment_journal = f"{company}/customerPaymentJournals({{journal_id}})"
    routes: list[tuple[str, Handler, str]] = [
        ("/companies", api.list_companies, "GET"),
        (company, api.get_company, "GET"),
        (f"{company}/taxGroups", api.list_tax_groups, "GET"),
        (f"{company}/customers", api.list_customers, "GET"),
        (f"{company}/customers", api.create_customer, "POST"),
        (f"{company}/customers({{customer_id}})", api.get_customer, "GET"),
        (f"{company}/customers({{customer_id}})", api.update_customer, "PATCH"),
        (f"{company}/salesInvoices", api.list_sales_invoices, "GET"),
        (f"{company}/salesInvoices", api.create_sales_invoice, "POST"),
        (invoice, api.get_sales_invoice, "GET"),
        (invoice, api.update_sales_invoice, "PATCH"),
        (f"{invoice}/salesInvoiceLines", api.list_sales_invoice_lines, "GET"),
        (f"{invoice}/salesInvoiceLines", api.create_sales_invoice_line, "POST"),
        (f"{invoice}/Microsoft.NAV.post", api.post_sales_invoice, "POST"),
        (f"{company}/currencies", api.list_currencies, "GET"),
        (f"{company}/salesCreditMemos", api.list_sales_credit_memos, "GET"),
        (f"{company}/salesCreditMemos", api.create_sales_credit_memo, "POST"),
        (memo, api.get_sales_credit_memo, "GET"),
        (memo, api.update_sales_credit_memo, "PATCH"),
        (f"{memo}/salesCreditMemoLines", api.list_sales_credit_memo_lines, "GET"),
        (f"{memo}/salesCreditMemoLines", api.create_sales_credit_memo_line, "POST"),
        (f"{memo}/Microsoft.NAV.post", api.post_sales_credit_memo, "POST"),
        (f"{company}/journals", api.list_journals, "GET"),
        (f"{company}/journals", api.create_journal, "POST"),
        (journal, api.get_journal, "GET"),
        (journal, api.update_journal, "PATCH"),
        (f"{journal}/journalLines", api.list_journal_lines, "GET"),
        (f"{journal}/journalLines", api.create_journal_line, "POST"),
        (f"{journal}/journalLines({{line_id}})", api.update_journal_line, "PATCH"),
        (f"{journal}/Microsoft.NAV.post", api.post_journal, "POST"),
        (f"{company}/generalLedgerEntries", api.list_ledger_entries, "GET"),
        (f"{company}/customerPaymentJournals", api.list_payment_journals, "GET"),
        (f"{company}/customerPaymentJournals", api.create_payment_journal, "POST"),
        (payment_journal, api.get_payment_journal, "GET"),
        (payment_journal, api.update_payment_journal, "PATCH"),
        (f"{payment_journal}/customerPayments", api.list_customer_payments, "GET"),
        (f"{payment_journal}/customerPayments", api.create_customer_payment, "POST"),
    ]
    by_path: dict[str, dict[str, Handler]] = {}
    for path, handler, method in routes:
        by_path.setdefault(path, {})[method] = handler
    app = Starlette(
        routes=[
            Mount(
                API_ROOT,
                routes=[
                    Route(path, _dispatch(handlers), methods=list(handlers))
                    for path, handlers in by_path.items()
                ],
            ),
            Route(REPEATED_CREATES_PATH, api.repeated_creates, methods=["GET"]),
        ],
        exception_handlers={BcFault: _on_fault, HTTPException: _on_http_error},
    )
    app.state.business_central = api.state
    install_faults(app)  # tests and benchmarks only: see sandboxes.faults
    return app


def _dispatch(handlers: dict[str, Handler]) -> Handler:
    """One endpoint for several methods on the same path."""

    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await handlers[method](request)

    return endpoint
