"""A Dynamics 365 Business Central (API v1.0) sandbox: BC's wire format, in memory.

Serves `/v2.0/{environment}/api/v1.0/...` for companies, customers, tax groups, sales
invoices with their lines, and the `Microsoft.NAV.post` action, seeded from the demo
estate. It keeps BC's rules that matter to the gateway: `@odata.etag` and `If-Match`
on updates, lines that compute their own tax from the line's tax group, posting
that assigns a posted number and refuses closed periods, and one document per
external document number.

Refusals use BC's OData error body `{"error": {"code", "message"}}`, BC's documented
error codes and, where BC has one, BC's own message text (with BC's
`CorrelationId` suffix):

- closed period (posting date before the first open day): 400
  `Application_DialogException`, "Posting Date is not within your range of allowed
  posting dates."
- posting a draft without lines: 400 `Application_DialogException`, "There is
  nothing to post."
- changing a posted invoice or adding lines to it, an invoice without customer:
  400 `Application_DialogException`
- unknown tax group or currency in a body: 400 `Internal_InvalidTableRelation`
- unknown customer number in a body: 400 `Internal_RecordNotFound`
- customer number or line sequence already taken: 400
  `Internal_EntityWithSameKeyExists`
- text longer than its field: 400 `Application_StringExceededLength`
- malformed body, unknown property, unsupported `$filter` or `$expand`: 400
  `BadRequest`
- PATCH without `If-Match`: 400 `BadRequest_InvalidToken`; an `If-Match` that is
  not the current etag: 412 `Request_EntityChanged`
- unknown company: 404 `Internal_CompanyNotFound`; unknown customer or invoice id:
  404 `Internal_RecordNotFound`; unknown path or method: 404
  `BadRequest_ResourceNotFound` / 405 `BadRequest_MethodNotAllowed`

Dates are written as date-time strings (midnight UTC), as the v1.0 OpenAPI document
declares, and read in either form. Creating a sales invoice whose external document
number exists answers `201` with the existing document (the only status the
document declares for the create) instead of making a second one.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from app.core.currencies import is_known_currency, minor_unit_exponent
from system_apis.faults import install_faults
from system_apis.sandboxes.demo_estate import DEMO_COMPANIES, DemoCompany, first_open_day

API_ROOT = "/v2.0/{environment}/api/v1.0"

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
LINE_NUMBER_STEP = 10000
ZERO = Decimal(0)

_FILTER = re.compile(r"^\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*$")


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
class CompanyBook:
    """One company's records and number series."""

    company: DemoCompany
    tax_groups: dict[str, TaxGroup]
    customers: dict[str, Customer] = field(default_factory=dict)
    invoices: dict[str, SalesInvoice] = field(default_factory=dict)
    next_draft_number: int = FIRST_DRAFT_NUMBER
    next_posted_number: int = FIRST_POSTED_NUMBER

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


def _odata_filter(request: Request, entity: str, allowed: frozenset[str]) -> tuple[str, str] | None:
    """The `(property, value)` of a `$filter=<property> eq '<text>'`, if one was given."""
    expression = request.query_params.get("$filter")
    if expression is None:
        return None
    match = _FILTER.match(expression)
    if match is None:
        raise BcFault(
            400, "BadRequest", f"The sandbox only understands <property> eq '<text>': {expression}"
        )
    name, literal = match.groups()
    if name not in allowed:
        raise BcFault(
            400,
            "BadRequest",
            f"Could not find a property named '{name}' on type 'Microsoft.NAV.{entity}'.",
        )
    return name, literal.replace("''", "'")


def _expand_lines(request: Request) -> bool:
    expand = request.query_params.get("$expand")
    if expand is None:
        return False
    requested = {part.strip() for part in expand.split(",")}
    if requested - {"salesInvoiceLines"}:
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
        customers: Iterable[Customer] = book.customers.values()
        if (condition := _odata_filter(request, "customer", frozenset({"number"}))) is not None:
            customers = [c for c in customers if c.number == condition[1]]
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
        expand = _expand_lines(request)
        invoices: Iterable[SalesInvoice] = book.invoices.values()
        condition = _odata_filter(
            request, "salesInvoice", frozenset({"externalDocumentNumber", "number"})
        )
        if condition is not None:
            name, value = condition
            invoices = [
                i
                for i in invoices
                if (i.external_document_number if name == "externalDocumentNumber" else i.number)
                == value
            ]
        return ODataResponse({"value": [i.wire(expand_lines=expand) for i in invoices]})

    async def create_sales_invoice(self, request: Request) -> Response:
        book = self._book(request)
        values = await _read_body(request, "salesInvoice", _INVOICE_CREATE_FIELDS)
        external = values.get("externalDocumentNumber", "")
        if external:
            for existing in book.invoices.values():
                if existing.external_document_number == external:
                    return ODataResponse(existing.wire(), status_code=201)
        customer = _invoice_customer(book, values)
        currency = values.get("currencyCode") or customer.currency_code or book.company.currency
        _check_currency(currency, "Sales Header")
        invoice_date = values.get("invoiceDate") or (self.state.today or date.today())
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
        return ODataResponse(invoice.wire(expand_lines=_expand_lines(request)))

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
        last = max((line.sequence for line in invoice.lines), default=0)
        sequence = values.get("sequence", last + LINE_NUMBER_STEP)
        if any(line.sequence == sequence for line in invoice.lines):
            raise BcFault(
                400,
                "Internal_EntityWithSameKeyExists",
                "The Sales Line already exists. Identification fields and values: Document "
                f"Type='Invoice',Document No.='{invoice.number}',Line No.='{sequence}'",
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
        amount = _round(quantity * unit_price, invoice.currency_code)
        line = SalesInvoiceLine(
            document_id=invoice.id,
            sequence=sequence,
            line_type=values.get("lineType", "Account"),
            description=values.get("description", ""),
            quantity=quantity,
            unit_price=unit_price,
            tax_code=tax_code,
            tax_percent=percent,
            amount_excluding_tax=amount,
            total_tax_amount=_round(amount * percent / 100, invoice.currency_code),
        )
        invoice.lines.append(line)
        invoice.lines.sort(key=lambda item: item.sequence)
        invoice.touch()
        return ODataResponse(line.wire(), status_code=201)

    async def post_sales_invoice(self, request: Request) -> Response:
        book, invoice = self._invoice(request)
        if invoice.status != "Draft":
            return Response(status_code=204)
        if not invoice.lines:
            raise BcFault(400, "Application_DialogException", "There is nothing to post.")
        if invoice.invoice_date < self.state.first_open_day():
            raise BcFault(
                400,
                "Application_DialogException",
                "Posting Date is not within your range of allowed posting dates.",
            )
        invoice.number = f"PS-INV{book.next_posted_number}"
        book.next_posted_number += 1
        invoice.status = "Open"
        invoice.remaining_amount = invoice.total_including_tax
        invoice.touch()
        return Response(status_code=204)


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


def _refuse_posted(invoice: SalesInvoice) -> None:
    if invoice.status != "Draft":
        raise BcFault(
            400,
            "Application_DialogException",
            f"Sales invoice {invoice.number} has been posted and can no longer be changed.",
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
            )
        ],
        exception_handlers={BcFault: _on_fault, HTTPException: _on_http_error},
    )
    app.state.business_central = api.state
    install_faults(app)  # tests and benchmarks only: see system_apis.faults
    return app


def _dispatch(handlers: dict[str, Handler]) -> Handler:
    """One endpoint for several methods on the same path."""

    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await handlers[method](request)

    return endpoint
