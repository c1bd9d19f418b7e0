"""What the partner portal reads: invoices with their payments, commissions, statements."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import Field

from core.canonical.base import OutputModel
from core.canonical.documents import Invoice, SettlementStatus
from core.models.payment import PaymentStatus
from process_apis.settlements.schemas import CommissionLineage


class InvoicePaymentStatus(StrEnum):
    UNPAID = "unpaid"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"


class PaymentPart(OutputModel):
    """The part of a payment's cash the ERP applied to another invoice: the sales invoice
    of an upgrade billing collected with this invoice."""

    amendment_id: str = Field(description="The subscription amendment that posted it.")
    erp_invoice_number: str = Field(description="The upgrade's ERP sales invoice.")
    amount: int = Field(description="The cash applied to it, in minor units.")
    erp_document_number: str | None = Field(description="The ERP customer payment that applied it.")


class InvoicePayment(OutputModel):
    id: str
    amount: int = Field(
        description="The cash received, in minor units: `amount_applied` plus the `parts` "
        "applied to other invoices."
    )
    amount_applied: int = Field(
        description="Of `amount`, the cash applied to this invoice (all of it until applied)."
    )
    credit_applied: int = Field(
        description="What credit memos paid of this invoice with the payment, tax included: "
        "the customer's credit balance billing netted, the credit memos of downgrades "
        "billing collected with it."
    )
    parts: list[PaymentPart] = Field(
        description="The cash applied to the upgrades' invoices billing collected with "
        "this one, once applied."
    )
    currency: str
    paid_on: date
    status: PaymentStatus = Field(
        description="`recorded`: not yet in the ERP. `applied`: applied to the invoice in the "
        "ERP. `void`: given up before it reached the ERP. `reversed`: its cash taken back "
        "(the credit applied stays)."
    )
    erp_document_number: str | None


class InvoicePayments(OutputModel):
    """The invoice's payments as recorded by the payment workflow, each counted for what
    it paid of this invoice."""

    status: InvoicePaymentStatus = Field(
        description="From what payments settled in the ERP (cash and credit applied) "
        "against the invoice's total."
    )
    amount_paid: int = Field(
        description="The cash of payments applied in the ERP, their parts applied to "
        "other invoices left out, in minor units."
    )
    amount_pending: int = Field(description="Recorded, not yet applied in the ERP.")
    amount_credited: int = Field(
        description="Credited by credit memos posted to the ERP, tax included, in minor units."
    )
    amount_credit_applied: int = Field(
        description="What credit memos applied for its payments paid (their "
        "`credit_applied`, of payments applied or reversed), in minor units."
    )
    amount_due: int = Field(
        description="Total less the amounts paid, credited and credit applied, never below zero."
    )
    payments: list[InvoicePayment] = Field(description="Oldest first.")


class PartnerInvoice(Invoice):
    payment: InvoicePayments


class CommissionStatus(StrEnum):
    INELIGIBLE = "ineligible"  # rated and on record, earns nothing (see the eligibility reason)
    UNSETTLED = "unsettled"  # earns; no statement holds it yet
    SETTLED = "settled"  # on a settlement statement


class PartnerCommissionLine(OutputModel):
    """What one payment earned the partner on one invoice line, with how it was computed."""

    id: str
    status: CommissionStatus = Field(
        description="`ineligible`: earns nothing, on record with its reason. `unsettled`: "
        "earned, on no statement yet. `settled`: on the statement of `statement_period`."
    )
    currency: str
    paid_on: date = Field(description="The payment's date: the commission's period.")
    commission_amount: int
    statement_period: str | None = Field(
        description="The `YYYY-MM` of the statement that holds it, once settled.",
        examples=["2026-11"],
    )
    created_at: datetime
    lineage: CommissionLineage


class StatementTotal(OutputModel):
    currency: str
    total_commission: int
    line_count: int


class StatementSettlement(OutputModel):
    """One settlement of the period: a legal entity's commissions in one currency."""

    id: str
    version: int
    legal_entity_id: str
    currency: str
    total_commission: int
    clawback_total: int = Field(
        description="The part of `total_commission` (zero or negative) that claws back "
        "commissions of the month on payments since reversed."
    )
    line_count: int | None
    status: SettlementStatus
    journal_document_number: str | None = Field(
        description="The ERP journal entry that books it, once posted."
    )
    posting_date: date | None
    posted_at: datetime | None


class Statement(OutputModel):
    """The partner's settlement statement of one month, across legal entities."""

    period: str = Field(examples=["2026-11"])
    period_start: date
    period_end: date
    status: SettlementStatus = Field(
        description="The least advanced status of its settlements that are not void "
        "(`void` when all are)."
    )
    totals: list[StatementTotal] = Field(
        description="By currency, void settlements left out; ordered by currency."
    )
    settlements: list[StatementSettlement]
