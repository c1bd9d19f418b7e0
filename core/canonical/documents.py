"""Financial documents: invoices (with lines), credit memos and partner settlements."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, StrictInt, model_validator

from core.canonical.base import BackendRefs, Code, Day, InputModel, OutputModel, Versioned
from core.money import CurrencyCode, MinorUnits, NonNegativeMinorUnits
from core.status import StatusMachine

MAX_INVOICE_LINES = 500


class InvoiceStatus(StrEnum):
    OPEN = "open"
    POSTING = "posting"
    POSTED = "posted"
    # The ERP booked other totals than ours: no payment or commission until an operator
    # accepts the ERP's figures (`posted`) or reverses its document (`open`, re-posted).
    POSTING_MISMATCH = "posting_mismatch"
    PAID = "paid"
    VOID = "void"


INVOICE_STATUS = StatusMachine[InvoiceStatus](
    "invoice",
    {
        InvoiceStatus.OPEN: frozenset({InvoiceStatus.POSTING, InvoiceStatus.VOID}),
        # A posting that fails for a business reason returns the invoice to `open`.
        InvoiceStatus.POSTING: frozenset(
            {InvoiceStatus.POSTED, InvoiceStatus.OPEN, InvoiceStatus.POSTING_MISMATCH}
        ),
        InvoiceStatus.POSTING_MISMATCH: frozenset({InvoiceStatus.POSTED, InvoiceStatus.OPEN}),
        InvoiceStatus.POSTED: frozenset({InvoiceStatus.PAID}),
        # A reversed payment (a bounced cheque) leaves the invoice owing again.
        InvoiceStatus.PAID: frozenset({InvoiceStatus.POSTED}),
        # A void that billing refuses (it was paid meanwhile) is withdrawn.
        InvoiceStatus.VOID: frozenset({InvoiceStatus.OPEN}),
    },
)


class InvoiceLineCreate(InputModel):
    description: Annotated[str, Field(min_length=1, max_length=100)] = Field(
        examples=["Pro plan, November 2026"]
    )
    quantity: Annotated[StrictInt, Field(ge=1, le=1_000_000)] = Field(examples=[1])
    unit_amount: NonNegativeMinorUnits = Field(description="Price per unit in minor units.")
    amount: NonNegativeMinorUnits = Field(description="quantity × unit_amount, in minor units.")
    tax_code: Code = Field(description="Tax group code known to the ERP.", examples=["STANDARD"])
    tax_amount: NonNegativeMinorUnits = Field(description="Tax on this line, in minor units.")
    product_id: str | None = None
    service_period_start: Day | None = Field(
        default=None,
        description="First day of the service the line bills for; with `service_period_end`, "
        "the line's revenue is deferred and recognized over the period once posted.",
    )
    service_period_end: Day | None = Field(
        default=None, description="Last day of the service the line bills for (included)."
    )

    @model_validator(mode="after")
    def _amount_is_quantity_times_unit(self) -> Self:
        if self.amount != self.quantity * self.unit_amount:
            raise ValueError(
                f"amount {self.amount} is not quantity × unit_amount "
                f"({self.quantity} × {self.unit_amount} = {self.quantity * self.unit_amount})"
            )
        return self

    @model_validator(mode="after")
    def _service_period_is_whole(self) -> Self:
        start, end = self.service_period_start, self.service_period_end
        if (start is None) != (end is None):
            raise ValueError("service_period_start and service_period_end go together")
        if start is not None and end is not None and end < start:
            raise ValueError(f"service_period_end {end} is before service_period_start {start}")
        return self


class InvoiceCreate(InputModel):
    customer_id: str
    currency: CurrencyCode
    invoice_date: Day = Field(description="Document date; the default posting date.")
    due_date: Day
    lines: list[InvoiceLineCreate] = Field(min_length=1, max_length=MAX_INVOICE_LINES)
    subtotal: NonNegativeMinorUnits = Field(description="Sum of line amounts.")
    tax_total: NonNegativeMinorUnits = Field(description="Sum of line tax amounts.")
    total: NonNegativeMinorUnits = Field(description="subtotal + tax_total.")
    subscription_id: str | None = None

    @model_validator(mode="after")
    def _totals_match_lines(self) -> Self:
        problems = []
        subtotal = sum(line.amount for line in self.lines)
        tax_total = sum(line.tax_amount for line in self.lines)
        if self.subtotal != subtotal:
            problems.append(f"subtotal {self.subtotal} != sum of line amounts {subtotal}")
        if self.tax_total != tax_total:
            problems.append(f"tax_total {self.tax_total} != sum of line tax amounts {tax_total}")
        if self.total != self.subtotal + self.tax_total:
            problems.append(f"total {self.total} != subtotal + tax_total")
        if self.due_date < self.invoice_date:
            problems.append("due_date is before invoice_date")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class InvoiceLine(OutputModel):
    id: str
    sequence: int
    description: str
    quantity: int
    unit_amount: int
    amount: int
    tax_code: str
    tax_amount: int
    product_id: str | None
    service_period_start: date | None = None
    service_period_end: date | None = None


class InvoicePosting(OutputModel):
    """What the ERP acknowledged when the invoice was posted."""

    posting_date: date | None = None
    erp_document_id: str | None = None
    erp_document_number: str | None = None
    posted_at: datetime | None = None


class Invoice(Versioned):
    customer_id: str
    legal_entity_id: str
    subscription_id: str | None
    currency: str
    invoice_date: date
    due_date: date
    subtotal: int
    tax_total: int
    total: int
    status: InvoiceStatus
    lines: list[InvoiceLine]
    posting: InvoicePosting
    refs: BackendRefs


class CreditMemoStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    ISSUED = "issued"
    POSTED = "posted"


CREDIT_MEMO_STATUS = StatusMachine[CreditMemoStatus](
    "credit memo",
    {
        CreditMemoStatus.REQUESTED: frozenset(
            {CreditMemoStatus.APPROVED, CreditMemoStatus.REJECTED}
        ),
        # An approved credit given up (discarded run) is withdrawn, reversed if it was posted.
        CreditMemoStatus.APPROVED: frozenset({CreditMemoStatus.ISSUED, CreditMemoStatus.REJECTED}),
        CreditMemoStatus.ISSUED: frozenset({CreditMemoStatus.POSTED}),
    },
)


class CreditMemoKind(StrEnum):
    """`support`: a support case's credit. `correction`: finance corrects a posted invoice.
    `refund`: billing refunded a paid invoice's charge, so its revenue is credited."""

    SUPPORT = "support"
    CORRECTION = "correction"
    REFUND = "refund"


class CreditSettlement(StrEnum):
    """How a credit on a paid invoice reaches the customer: money back on the invoice's
    payment, or a credit on the customer's balance for the next invoices."""

    REFUND = "refund"
    CUSTOMER_BALANCE = "customer_balance"


class CreditMemo(Versioned):
    invoice_id: str
    customer_id: str
    legal_entity_id: str
    currency: str
    amount: MinorUnits
    reason_code: str
    status: CreditMemoStatus
    kind: CreditMemoKind = CreditMemoKind.SUPPORT
    refs: BackendRefs


class SettlementStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    POSTED = "posted"
    PAID = "paid"
    VOID = "void"
    REVERSED = "reversed"  # its journal entry reversed in the ERP; its lines unsettled again


SETTLEMENT_STATUS = StatusMachine[SettlementStatus](
    "settlement",
    {
        # A statement whose journal never reached the ERP may be voided; its lines are freed.
        SettlementStatus.DRAFT: frozenset({SettlementStatus.APPROVED, SettlementStatus.VOID}),
        SettlementStatus.APPROVED: frozenset({SettlementStatus.POSTED, SettlementStatus.VOID}),
        SettlementStatus.POSTED: frozenset({SettlementStatus.PAID, SettlementStatus.REVERSED}),
    },
)


class Settlement(Versioned):
    partner_id: str
    legal_entity_id: str
    period_start: date
    period_end: date
    currency: CurrencyCode
    total_commission: int
    status: SettlementStatus
    refs: BackendRefs
