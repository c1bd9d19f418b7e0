"""NetSuite REST record API (`/services/rest/record/v1`) wire models, in NetSuite's names.

Responses are read leniently (NetSuite returns many more fields than we use),
requests are built strictly. References to other records are `{"id": ...}`
objects; amounts are JSON numbers in major units; dates are `YYYY-MM-DD`.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from system_apis.erp.adapters.business_central_wire import BcAmount

NsAmount = BcAmount
"""A decimal amount written as a JSON number: NetSuite and BC agree on that."""

PENDING_APPROVAL = "1"
APPROVED = "2"
REJECTED = "3"
"""`approvalStatus` ids: an invoice pending approval has not posted to the ledger yet."""


class NsModel(BaseModel):
    """A NetSuite response object: unknown fields ignored."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)


class NsRequest(BaseModel):
    """A NetSuite request body: nothing we did not mean to send."""

    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="forbid")


class NsErrorDetail(BaseModel):
    detail: str
    error_code: str = Field(alias="o:errorCode")


class NsErrorBody(BaseModel):
    """NetSuite's RFC 9457-style error body."""

    title: str
    status: int
    details: list[NsErrorDetail] = Field(alias="o:errorDetails", min_length=1)


class NsRef(NsModel):
    id: str
    ref_name: str | None = Field(default=None, alias="refName")


class NsRefRequest(NsRequest):
    id: str


class NsCollectionItem(NsModel):
    id: str


class NsCollection(NsModel):
    """A query result: the matching records' ids."""

    items: list[NsCollectionItem]
    has_more: bool = Field(alias="hasMore")
    total_results: int = Field(alias="totalResults")


class NsCurrency(NsModel):
    id: str
    name: str
    symbol: str


class NsSubsidiary(NsModel):
    id: str
    name: str
    legal_name: str | None = Field(default=None, alias="legalName")


class NsTaxItem(NsModel):
    id: str
    item_id: str = Field(alias="itemId")


class NsCustomer(NsModel):
    id: str
    external_id: str | None = Field(default=None, alias="externalId")
    company_name: str | None = Field(default=None, alias="companyName")
    email: str | None = None
    currency: NsRef | None = None
    subsidiary: NsRef
    # `AUTO` (the credit limit decides), `ON` (held: no new transactions) or `OFF`.
    credit_hold_override: NsRef | None = Field(default=None, alias="creditHoldOverride")


class NsCustomerCreditHold(NsRequest):
    """A PATCH of the customer's credit hold: `ON`, `AUTO` or `OFF`."""

    credit_hold_override: NsRefRequest = Field(serialization_alias="creditHoldOverride")


class NsCustomerUpsert(NsRequest):
    entity_id: str = Field(serialization_alias="entityId")
    company_name: str = Field(serialization_alias="companyName")
    email: str
    currency: NsRefRequest
    subsidiary: NsRefRequest


class NsInvoiceLine(NsModel):
    line: int
    quantity: NsAmount
    rate: NsAmount
    amount: NsAmount
    description: str | None = None
    account: NsRef | None = None


class NsInvoiceLines(NsModel):
    items: list[NsInvoiceLine]


class NsInvoice(NsModel):
    id: str
    external_id: str | None = Field(default=None, alias="externalId")
    tran_id: str | None = Field(default=None, alias="tranId")
    tran_date: date | None = Field(default=None, alias="tranDate")
    due_date: date | None = Field(default=None, alias="dueDate")
    entity: NsRef
    subsidiary: NsRef
    currency: NsRef
    approval_status: NsRef = Field(alias="approvalStatus")
    subtotal: NsAmount
    tax_total: NsAmount = Field(alias="taxTotal")
    total: NsAmount
    amount_remaining: NsAmount = Field(alias="amountRemaining")
    item: NsInvoiceLines


class NsInvoiceLineCreate(NsRequest):
    item: NsRefRequest
    description: str
    quantity: NsAmount
    rate: NsAmount
    tax_code: NsRefRequest = Field(serialization_alias="taxCode")
    account: NsRefRequest | None = None


class NsInvoiceLinesCreate(NsRequest):
    items: list[NsInvoiceLineCreate]


class NsInvoiceCreate(NsRequest):
    external_id: str = Field(serialization_alias="externalId")
    entity: NsRefRequest
    subsidiary: NsRefRequest
    currency: NsRefRequest
    tran_date: date = Field(serialization_alias="tranDate")
    due_date: date = Field(serialization_alias="dueDate")
    approval_status: NsRefRequest = Field(serialization_alias="approvalStatus")
    item: NsInvoiceLinesCreate


class NsCreditMemoLines(NsModel):
    items: list[NsInvoiceLine]


class NsCreditMemo(NsModel):
    id: str
    external_id: str | None = Field(default=None, alias="externalId")
    tran_id: str | None = Field(default=None, alias="tranId")
    tran_date: date | None = Field(default=None, alias="tranDate")
    entity: NsRef
    subsidiary: NsRef
    currency: NsRef
    created_from: NsRef | None = Field(default=None, alias="createdFrom")
    subtotal: NsAmount
    tax_total: NsAmount = Field(alias="taxTotal")
    total: NsAmount
    item: NsCreditMemoLines


class NsCreditMemoCreate(NsRequest):
    external_id: str = Field(serialization_alias="externalId")
    entity: NsRefRequest
    currency: NsRefRequest
    tran_date: date = Field(serialization_alias="tranDate")
    created_from: NsRefRequest | None = Field(default=None, serialization_alias="createdFrom")
    item: NsInvoiceLinesCreate


class NsInvoiceDates(NsRequest):
    tran_date: date = Field(serialization_alias="tranDate")
    due_date: date = Field(serialization_alias="dueDate")


class NsInvoiceApproval(NsRequest):
    approval_status: NsRefRequest = Field(serialization_alias="approvalStatus")


class NsAccount(NsModel):
    id: str
    acct_number: str = Field(alias="acctNumber")
    acct_name: str | None = Field(default=None, alias="acctName")
    acct_type: NsRef | None = Field(default=None, alias="acctType")


SALES_ACCOUNT_TYPES = frozenset({"Income", "DeferRevenue"})
"""The account types a sales line books (`acctType`): only their ledger holds documents' lines."""

INVOICE_APPLICATION = "Invoice"
"""The `type` of an `apply` line on an invoice (a journal entry's is `Journal`)."""


class NsPaymentApplication(NsModel):
    doc: NsRef
    type: str | None = None
    apply: bool
    amount: NsAmount
    ref_num: str | None = Field(default=None, alias="refNum")


class NsPaymentApplications(NsModel):
    items: list[NsPaymentApplication]


class NsCustomerPayment(NsModel):
    id: str
    external_id: str | None = Field(default=None, alias="externalId")
    tran_id: str | None = Field(default=None, alias="tranId")
    tran_date: date | None = Field(default=None, alias="tranDate")
    customer: NsRef
    subsidiary: NsRef
    currency: NsRef
    account: NsRef
    receivable: NsRef | None = Field(default=None, alias="aracct")
    payment: NsAmount
    apply: NsPaymentApplications


class NsCustomerPaymentCreate(NsRequest):
    """The body of `POST /invoice/{id}/!transform/customerPayment`: applied to that invoice."""

    external_id: str = Field(serialization_alias="externalId")
    tran_date: date = Field(serialization_alias="tranDate")
    payment: NsAmount
    account: NsRefRequest
    memo: str


class NsJournalLine(NsModel):
    line: int
    account: NsRef
    entity: NsRef | None = None
    debit: NsAmount | None = None
    credit: NsAmount | None = None
    memo: str | None = None


class NsJournalLines(NsModel):
    items: list[NsJournalLine]


class NsJournalEntry(NsModel):
    id: str
    external_id: str | None = Field(default=None, alias="externalId")
    tran_id: str | None = Field(default=None, alias="tranId")
    tran_date: date | None = Field(default=None, alias="tranDate")
    subsidiary: NsRef
    currency: NsRef
    approved: bool
    line: NsJournalLines


class NsJournalLineCreate(NsRequest):
    account: NsRefRequest
    entity: NsRefRequest | None = None
    debit: NsAmount | None = None
    credit: NsAmount | None = None
    memo: str


class NsJournalLinesCreate(NsRequest):
    items: list[NsJournalLineCreate]


class NsJournalEntryCreate(NsRequest):
    """A journal entry pending approval (journal approval on): approving it posts it."""

    external_id: str = Field(serialization_alias="externalId")
    tran_id: str = Field(serialization_alias="tranId")
    subsidiary: NsRefRequest
    currency: NsRefRequest
    tran_date: date = Field(serialization_alias="tranDate")
    memo: str
    approved: bool
    line: NsJournalLinesCreate


class NsJournalApproval(NsRequest):
    approved: bool


class NsPaymentApplicationUpdate(NsRequest):
    doc: NsRefRequest
    apply: bool
    amount: NsAmount | None = None


class NsPaymentApplicationsUpdate(NsRequest):
    items: list[NsPaymentApplicationUpdate]


class NsPaymentReapplication(NsRequest):
    """`PATCH /customerPayment/{id}`: its `apply` lines, matched by `doc`."""

    apply: NsPaymentApplicationsUpdate


class NsCreditMemoApplication(NsRequest):
    """`PATCH /creditMemo/{id}`: the invoices its open credit applies to, matched by `doc`."""

    apply: NsPaymentApplicationsUpdate


class NsCustomerCredit(NsModel):
    """A customer read for a credit check: its hold, limit and open balance."""

    id: str
    external_id: str | None = Field(default=None, alias="externalId")
    subsidiary: NsRef
    credit_hold_override: NsRef | None = Field(default=None, alias="creditHoldOverride")
    credit_limit: NsAmount | None = Field(default=None, alias="creditLimit")
    balance: NsAmount | None = None


class NsSalesOrderLine(NsModel):
    line: int
    item: NsRef
    quantity: NsAmount
    rate: NsAmount
    amount: NsAmount


class NsSalesOrderLines(NsModel):
    items: list[NsSalesOrderLine] = []


class NsSalesOrder(NsModel):
    id: str
    external_id: str | None = Field(default=None, alias="externalId")
    tran_id: str | None = Field(default=None, alias="tranId")
    tran_date: date | None = Field(default=None, alias="tranDate")
    entity: NsRef
    currency: NsRef
    order_status: NsRef = Field(alias="orderStatus")
    subtotal: NsAmount
    tax_total: NsAmount = Field(alias="taxTotal")
    total: NsAmount
    item: NsSalesOrderLines


class NsSalesOrderCreate(NsRequest):
    external_id: str = Field(serialization_alias="externalId")
    entity: NsRefRequest
    subsidiary: NsRefRequest
    currency: NsRefRequest
    tran_date: date = Field(serialization_alias="tranDate")
    start_date: date = Field(serialization_alias="startDate")
    order_status: NsRefRequest = Field(serialization_alias="orderStatus")
    item: NsInvoiceLinesCreate
