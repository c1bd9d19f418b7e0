"""Canonical ERP objects, vendor-neutral. Amounts are integer minor units."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class ErpModel(BaseModel):
    model_config = ConfigDict(frozen=True)


class ErpCompany(ErpModel):
    id: str
    name: str
    display_name: str


class ErpCustomerUpsert(ErpModel):
    number: str = Field(max_length=20)
    display_name: str = Field(max_length=100)
    email: str | None = Field(default=None, max_length=80)
    currency: str


class ErpCustomer(ErpModel):
    id: str
    number: str
    display_name: str
    currency: str | None


class ErpCustomerStanding(ErpModel):
    """Whether the ERP blocks new documents for the customer (dunning suspension).

    Business Central: the customer's `blocked` is `All`; NetSuite: the customer's credit
    hold is forced on (`creditHoldOverride` `ON`).
    """

    id: str
    number: str
    blocked: bool


class ErpInvoiceLine(ErpModel):
    sequence: int = Field(ge=1)
    description: str = Field(max_length=100)
    quantity: int = Field(ge=1)
    unit_price: int = Field(description="Minor units.")
    tax_code: str = Field(max_length=20)
    account_number: str | None = Field(
        default=None,
        max_length=20,
        description="The G/L account the line is booked to (deferred revenue); none: the "
        "ERP's own posting setup.",
    )


class ErpSalesInvoiceCreate(ErpModel):
    external_document_number: str = Field(
        max_length=35, description="Our invoice id: the ERP's guard against duplicates."
    )
    customer_number: str
    currency: str
    posting_date: date
    due_date: date
    lines: tuple[ErpInvoiceLine, ...]


class ErpDocumentStatus(StrEnum):
    DRAFT = "draft"
    POSTED = "posted"
    PAID = "paid"
    CANCELED = "canceled"


class ErpSalesInvoice(ErpModel):
    id: str
    number: str | None
    external_document_number: str | None
    customer_number: str | None
    currency: str
    posting_date: date | None
    status: ErpDocumentStatus
    line_count: int
    total_excluding_tax: int
    total_tax: int
    total_including_tax: int
    remaining_amount: int = Field(
        description="What the customer still owes: 0 on a draft, reduced by payments and "
        "credit memos applied to the posted invoice."
    )


class ErpCurrency(ErpModel):
    code: str
    display_name: str | None
    symbol: str | None


class ErpSalesCreditMemoCreate(ErpModel):
    external_document_number: str = Field(
        max_length=35, description="Our credit memo id: the ERP's guard against duplicates."
    )
    customer_number: str
    currency: str
    posting_date: date
    due_date: date
    applies_to_invoice_id: str | None = Field(
        default=None, description="The ERP id of the posted invoice this memo corrects."
    )
    lines: tuple[ErpInvoiceLine, ...]


class ErpSalesCreditMemo(ErpModel):
    id: str
    number: str | None
    external_document_number: str | None
    customer_number: str | None
    currency: str
    posting_date: date | None
    status: ErpDocumentStatus
    applies_to_invoice_id: str | None
    applies_to_invoice_number: str | None
    line_count: int
    total_excluding_tax: int
    total_tax: int
    total_including_tax: int


class ErpCreditMemoApplicationCreate(ErpModel):
    """A posted, open credit memo applied to a posted invoice of the same customer."""

    credit_memo_id: str
    invoice_id: str
    currency: str
    amount: int = Field(
        gt=0,
        description="Minor units of the memo applied to this invoice, in all: applying the "
        "same memo to the same invoice again sets this amount, it adds nothing.",
    )


class ErpCreditMemoApplication(ErpModel):
    credit_memo_id: str
    credit_memo_number: str | None
    invoice_id: str
    invoice_number: str | None
    currency: str
    amount: int = Field(description="What the memo applies to the invoice now.")
    invoice_remaining_amount: int = Field(description="What the invoice still owes after it.")


class ErpJournalCreate(ErpModel):
    """A journal batch, found or created by `code`."""

    code: str = Field(max_length=10)
    display_name: str = Field(max_length=100)
    balancing_account_number: str | None = Field(
        default=None,
        max_length=20,
        description="Every line is balanced against this account when posted; without one "
        "the lines of each document must add up to zero.",
    )


class ErpJournal(ErpModel):
    id: str
    code: str
    display_name: str | None
    balancing_account_number: str | None


class ErpJournalLine(ErpModel):
    """One line of a journal entry; an entry's lines keep their order in the ERP."""

    account_number: str = Field(max_length=20)
    amount: int = Field(description="Minor units; positive debits the account, negative credits.")
    description: str = Field(max_length=100)


class ErpJournalEntryCreate(ErpModel):
    document_number: str = Field(
        max_length=20, description="Our key for the entry: its lines and its ledger entries."
    )
    external_document_number: str | None = Field(default=None, max_length=35)
    posting_date: date
    currency: str = Field(
        description="The legal entity's own currency, which journal amounts are kept in."
    )
    lines: tuple[ErpJournalLine, ...]


class ErpLedgerEntry(ErpModel):
    entry_number: int
    posting_date: date | None
    document_number: str | None
    account_number: str | None
    description: str | None
    debit: int = Field(ge=0)
    credit: int = Field(ge=0)


class ErpJournalEntry(ErpModel):
    """A journal entry: its pending lines while a draft, its ledger entries once posted."""

    journal_id: str
    document_number: str
    status: ErpDocumentStatus
    currency: str
    lines: tuple[ErpJournalLine, ...]
    ledger_entries: tuple[ErpLedgerEntry, ...]


class ErpCustomerPaymentCreate(ErpModel):
    external_document_number: str = Field(
        max_length=35, description="Our payment id: the ERP's guard against duplicates."
    )
    customer_number: str = Field(max_length=20)
    currency: str = Field(description="The invoice's currency, which the payment is made in.")
    posting_date: date
    amount: int = Field(gt=0, description="Minor units received.")
    applies_to_invoice_id: str
    description: str = Field(default="", max_length=100)


class ErpCustomerPaymentReversal(ErpModel):
    """The reversing entry of an applied payment: the same amount with the opposite sign,
    applied to the same invoice, which then owes that amount again."""

    external_document_number: str = Field(
        max_length=35, description="Derived from our payment id: the guard against duplicates."
    )
    reverses_document_number: str = Field(
        max_length=20, description="The ERP document number of the payment reversed."
    )
    customer_number: str = Field(max_length=20)
    currency: str
    posting_date: date
    amount: int = Field(gt=0, description="Minor units the payment applied, now taken back.")
    applies_to_invoice_id: str
    description: str = Field(default="", max_length=100)


class ErpCustomerPayment(ErpModel):
    id: str
    journal_id: str
    line_number: int | None
    document_number: str | None
    external_document_number: str | None
    customer_number: str | None
    posting_date: date | None
    currency: str
    amount: int
    applies_to_invoice_id: str | None
    applies_to_invoice_number: str | None


class ErpItem(ErpModel):
    """An item documents are sold on, as the ERP's catalog holds it."""

    id: str
    number: str = Field(description="The item's number (BC) or name (NetSuite `itemId`).")
    display_name: str
    unit_price: int | None = Field(
        description="Minor units of the company's currency; `None` when the ERP has no price."
    )
    blocked: bool = Field(description="Blocked (BC) or inactive (NetSuite): not to be sold.")
    base_unit_of_measure: str | None = Field(
        description="The unit `unit_price` is per (`MONTH`, `YEAR`, ...), as the ERP codes it."
    )


class ErpCustomerCredit(ErpModel):
    """What the ERP says of a customer's credit, before it takes a sales order.

    Business Central: `blocked` not blank, `balance` from `customerFinancialDetails`, the
    credit limit from the customer's `creditLimit` where the company's API has it;
    NetSuite: the credit hold `ON`, `balance` and `creditLimit` of the customer record.
    """

    number: str
    currency: str
    balance: int = Field(description="Minor units the customer owes now (open receivables).")
    credit_limit: int | None = Field(description="Minor units; `None`: the ERP sets no limit.")
    blocked: bool


class ErpSalesOrderLine(ErpModel):
    sequence: int = Field(ge=1)
    item_number: str = Field(
        max_length=60, description="The product's ERP item (BC item `number`, NetSuite `itemId`)."
    )
    description: str = Field(max_length=100)
    quantity: int = Field(ge=1)
    unit_price: int = Field(description="Minor units.")
    tax_code: str = Field(max_length=20)


class ErpSalesOrderCreate(ErpModel):
    external_document_number: str = Field(
        max_length=35, description="Our sales order id: the ERP's guard against duplicates."
    )
    customer_number: str
    currency: str
    order_date: date
    requested_delivery_date: date = Field(description="When the service starts.")
    lines: tuple[ErpSalesOrderLine, ...]


class ErpSalesOrderStatus(StrEnum):
    """A sales order's state in the ERP, vendor-neutral.

    `open`: taken, not yet released for fulfilment (BC `Draft`/`In Review`, NetSuite
    pending approval); `released` (BC `Open`, NetSuite pending fulfilment or billing);
    `completed` (fully shipped and invoiced, NetSuite billed); `canceled` (NetSuite
    cancelled or closed; a BC order deleted).
    """

    OPEN = "open"
    RELEASED = "released"
    COMPLETED = "completed"
    CANCELED = "canceled"


class ErpSalesOrder(ErpModel):
    id: str
    number: str | None
    external_document_number: str | None
    customer_number: str | None
    currency: str
    order_date: date | None
    status: ErpSalesOrderStatus
    line_count: int
    total_excluding_tax: int
    total_tax: int
    total_including_tax: int
