"""Business Central API v1.0 wire models: what goes over HTTP, in BC's own field names.

Responses are read leniently (unknown fields ignored: BC adds properties between
releases), requests are built strictly. Amounts are decimals in major units and
dates are sent as date-time strings, as the vendor's OpenAPI document says; both
`2024-05-01` and `2024-05-01T00:00:00Z` are read as a date.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel

from core.money import CurrencyCode


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


BcAmount = Annotated[
    Decimal, PlainSerializer(_json_number, return_type=int | float, when_used="json")
]
"""A decimal amount, written as a JSON number (BC's `Edm.Decimal`), never a string."""

BcInvoiceStatus = Literal["Draft", "In Review", "Open", "Paid", "Canceled", "Corrective"]
"""The status of a sales invoice or a sales credit memo."""

GL_ACCOUNT = "G/L Account"
ACCOUNT_LINE = "Account"  # a sales line booked to a G/L account
"""The journal line `accountType` of a general ledger account."""


class BcModel(BaseModel):
    """A BC response entity: camelCase on the wire, unknown properties ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


R = TypeVar("R", bound=BcModel)


class BcPage(BcModel, Generic[R]):
    """One answer of a list: BC's OData collection `{"value": [...]}`."""

    value: list[R]


class BcRequest(BaseModel):
    """A BC request body: camelCase on the wire, nothing we did not mean to send."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid"
    )


class BcError(BaseModel):
    """The `error` member of BC's OData error body."""

    code: str
    message: str


class BcErrorBody(BaseModel):
    error: BcError


class BcCompany(BcModel):
    id: str
    name: str
    display_name: str


class BcTaxGroup(BcModel):
    id: str
    code: str
    display_name: str | None = None
    tax_type: str | None = None


BcTaxGroupList = BcPage[BcTaxGroup]


class BcCustomer(BcModel):
    id: str
    number: str
    display_name: str
    email: str | None = None
    currency_code: str | None = None
    blocked: str | None = None
    etag: str = Field(alias="@odata.etag")


BcCustomerList = BcPage[BcCustomer]


class BcUnitOfMeasure(BcModel):
    code: str | None = None


class BcItem(BcModel):
    id: str
    number: str
    display_name: str | None = None
    blocked: bool | None = None
    unit_price: Decimal | None = None
    base_unit_of_measure: BcUnitOfMeasure | None = None


BcItemList = BcPage[BcItem]


class BcAccount(BcModel):
    id: str
    number: str


BcAccountList = BcPage[BcAccount]


class BcCustomerCreate(BcRequest):
    number: str
    display_name: str
    email: str
    currency_code: str


class BcCustomerBlock(BcRequest):
    """`blocked`: `All` (no documents of any kind) or ` ` (not blocked)."""

    blocked: str


class BcCustomerUpdate(BcRequest):
    display_name: str
    email: str
    currency_code: str


class BcSalesDocumentLine(BcModel):
    """A line of a sales invoice or of a sales credit memo: BC gives both the same shape."""

    id: str
    document_id: str
    sequence: int
    description: str | None = None
    quantity: BcAmount
    unit_price: BcAmount
    tax_code: str | None = None
    amount_excluding_tax: BcAmount
    total_tax_amount: BcAmount
    amount_including_tax: BcAmount


class BcSalesInvoice(BcModel):
    id: str
    number: str | None = None
    external_document_number: str | None = None
    invoice_date: date | None = None
    due_date: date | None = None
    customer_number: str | None = None
    currency_code: CurrencyCode
    status: BcInvoiceStatus
    total_amount_excluding_tax: BcAmount
    total_tax_amount: BcAmount
    total_amount_including_tax: BcAmount
    remaining_amount: BcAmount
    sales_invoice_lines: list[BcSalesDocumentLine] | None = None
    etag: str = Field(alias="@odata.etag")


BcSalesInvoiceList = BcPage[BcSalesInvoice]


class BcSalesInvoiceCreate(BcRequest):
    external_document_number: str
    customer_number: str
    currency_code: str
    invoice_date: datetime
    due_date: datetime


class BcBatchOperation(BcRequest):
    """One operation of an OData JSON `$batch` request; `url` is relative to the API root,
    or `$<id>/...` for the entity the operation `<id>` created."""

    id: str
    method: str
    url: str
    headers: dict[str, str] | None = None
    body: dict[str, Any] | None = None
    depends_on: list[str] | None = None


class BcBatchRequest(BcRequest):
    requests: list[BcBatchOperation]


class BcBatchAnswer(BcModel):
    """One operation's answer: its status and body (JSON, or a text for some refusals)."""

    id: str
    status: int
    body: Any = None


class BcBatchResponse(BcModel):
    responses: list[BcBatchAnswer]


class BcSalesInvoiceUpdate(BcRequest):
    invoice_date: datetime
    due_date: datetime


class BcSalesDocumentLineCreate(BcRequest):
    sequence: int
    line_type: str | None = None
    account_id: str | None = None
    description: str
    quantity: BcAmount
    unit_price: BcAmount
    tax_code: str


class BcSalesInvoiceDeepCreate(BcSalesInvoiceCreate):
    """A sales invoice created with its lines in one request (OData deep insert)."""

    sales_invoice_lines: list[BcSalesDocumentLineCreate]


class BcCurrency(BcModel):
    id: str
    code: str
    display_name: str | None = None
    symbol: str | None = None


BcCurrencyList = BcPage[BcCurrency]


class BcSalesCreditMemo(BcModel):
    id: str
    number: str | None = None
    external_document_number: str | None = None
    credit_memo_date: date | None = None
    due_date: date | None = None
    customer_number: str | None = None
    currency_code: CurrencyCode
    status: BcInvoiceStatus
    invoice_id: str | None = None
    invoice_number: str | None = None
    total_amount_excluding_tax: BcAmount
    total_tax_amount: BcAmount
    total_amount_including_tax: BcAmount
    sales_credit_memo_lines: list[BcSalesDocumentLine] | None = None
    etag: str = Field(alias="@odata.etag")


BcSalesCreditMemoList = BcPage[BcSalesCreditMemo]


class BcSalesCreditMemoCreate(BcRequest):
    external_document_number: str
    customer_number: str
    currency_code: str
    credit_memo_date: datetime
    due_date: datetime
    invoice_id: str | None = None


class BcSalesCreditMemoDeepCreate(BcSalesCreditMemoCreate):
    """A sales credit memo created with its lines in one request (OData deep insert)."""

    sales_credit_memo_lines: list[BcSalesDocumentLineCreate]


class BcSalesCreditMemoUpdate(BcRequest):
    credit_memo_date: datetime
    due_date: datetime


class BcJournal(BcModel):
    """A general journal batch or a customer payment journal: BC gives both this shape."""

    id: str
    code: str
    display_name: str | None = None
    balancing_account_number: str | None = None
    etag: str = Field(alias="@odata.etag")


BcJournalList = BcPage[BcJournal]


class BcJournalCreate(BcRequest):
    code: str
    display_name: str
    balancing_account_number: str | None = None


class BcJournalUpdate(BcRequest):
    display_name: str
    balancing_account_number: str


class BcJournalLine(BcModel):
    id: str
    line_number: int
    account_type: str | None = None
    account_number: str | None = None
    posting_date: date | None = None
    document_number: str | None = None
    external_document_number: str | None = None
    amount: BcAmount
    description: str | None = None
    etag: str = Field(alias="@odata.etag")


BcJournalLineList = BcPage[BcJournalLine]


class BcJournalLineCreate(BcRequest):
    """BC numbers the line itself, after the batch's last line."""

    account_type: str
    account_number: str
    posting_date: datetime
    document_number: str
    external_document_number: str | None = None
    amount: BcAmount
    description: str


class BcJournalLineUpdate(BcRequest):
    posting_date: datetime


class BcGeneralLedgerEntry(BcModel):
    id: int
    posting_date: date | None = None
    document_number: str | None = None
    account_number: str | None = None
    description: str | None = None
    debit_amount: BcAmount
    credit_amount: BcAmount


BcGeneralLedgerEntryList = BcPage[BcGeneralLedgerEntry]


class BcCustomerPayment(BcModel):
    id: str
    line_number: int | None = None
    customer_number: str | None = None
    posting_date: date | None = None
    document_number: str | None = None
    external_document_number: str | None = None
    amount: BcAmount
    applies_to_invoice_id: str | None = None
    applies_to_invoice_number: str | None = None
    description: str | None = None


BcCustomerPaymentList = BcPage[BcCustomerPayment]


class BcCustomerPaymentCreate(BcRequest):
    customer_number: str
    posting_date: datetime
    external_document_number: str
    amount: BcAmount
    applies_to_invoice_id: str
    description: str


class BcCustomerCredit(BcModel):
    """A customer read for a credit check. `creditLimit` (Credit Limit (LCY)) is not in the
    standard API v1.0: a company exposes it through its own API page, else it is absent."""

    id: str
    number: str
    currency_code: str | None = None
    blocked: str | None = None
    credit_limit: BcAmount | None = None


BcCustomerCreditList = BcPage[BcCustomerCredit]


class BcCustomerFinancialDetail(BcModel):
    id: str
    number: str | None = None
    balance: BcAmount | None = None


BcCustomerFinancialDetailList = BcPage[BcCustomerFinancialDetail]


class BcSalesOrderLine(BcModel):
    id: str
    document_id: str
    sequence: int
    item_id: str | None = None
    description: str | None = None
    quantity: BcAmount
    unit_price: BcAmount
    tax_code: str | None = None
    amount_excluding_tax: BcAmount
    total_tax_amount: BcAmount
    amount_including_tax: BcAmount


class BcSalesOrder(BcModel):
    id: str
    number: str | None = None
    external_document_number: str | None = None
    order_date: date | None = None
    customer_number: str | None = None
    currency_code: CurrencyCode
    status: str
    fully_shipped: bool | None = None
    total_amount_excluding_tax: BcAmount
    total_tax_amount: BcAmount
    total_amount_including_tax: BcAmount
    sales_order_lines: list[BcSalesOrderLine] | None = None
    etag: str = Field(alias="@odata.etag")


BcSalesOrderList = BcPage[BcSalesOrder]


class BcSalesOrderCreate(BcRequest):
    external_document_number: str
    customer_number: str
    currency_code: str
    order_date: datetime
    requested_delivery_date: datetime


class BcSalesOrderLineCreate(BcRequest):
    sequence: int
    line_type: str
    item_id: str
    description: str
    quantity: BcAmount
    unit_price: BcAmount
    tax_code: str
    shipment_date: datetime


class BcItemRef(BcModel):
    id: str
    number: str
    blocked: bool | None = None


BcItemRefList = BcPage[BcItemRef]
