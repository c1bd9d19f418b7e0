"""Request and response bodies of payments and their commission lines."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field, StrictInt

from core.canonical.base import BackendRefs, Day, InputModel, OutputModel
from core.models.payment import PaymentSource, PaymentStatus
from core.money import MAX_MINOR_UNITS, CurrencyCode
from process_apis.runs.schemas import RunSummary


class PaymentCreate(InputModel):
    amount: Annotated[StrictInt, Field(ge=1, le=MAX_MINOR_UNITS, examples=[16005])] = Field(
        description="Received, in minor units; no more than the invoice still owes."
    )
    currency: CurrencyCode
    paid_on: Day | None = Field(
        default=None,
        description="When it was received (default today): the date commissions are rated on.",
    )
    reference: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="The payer's or the bank's reference."
    )


class PaymentReversalCreate(InputModel):
    reason: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="Why the payment is reversed (a bounced cheque, applied to the wrong "
        "invoice): on the run and the ERP's reversing entry."
    )


class CommissionLine(OutputModel):
    """What the payment earns the customer's partner on one invoice line, and why."""

    id: str
    invoice_line_id: str
    partner_id: str
    product_id: str
    product_tier: str
    eligible: bool
    eligibility_reason: str
    deal_registration_id: str | None
    plan_code: str
    rate_card_version: int | None
    rate_effective_from: date | None
    rate_bps: int
    base_amount: int = Field(description="The part of the payment allocated to the line.")
    commission_amount: int
    currency: str
    settlement_id: str | None
    reverses_line_id: str | None = Field(
        description="On a claw-back (a reversed payment's negative line): the line it reverses."
    )


class PaymentSummary(OutputModel):
    """A payment as lists show it: without its commission lines and runs."""

    id: str
    invoice_id: str
    customer_id: str
    legal_entity_id: str
    amount: int
    balance_applied: int = Field(
        default=0,
        description="What the customer's credit balance paid of the invoice besides `amount` "
        "(billing netted it into the payment): applied in the ERP from the customer's open "
        "credit memos, oldest first.",
    )
    currency: str
    paid_on: date
    source: PaymentSource
    reference: str | None
    status: PaymentStatus = Field(
        description="`recorded`: not yet in the ERP. `applied`: applied to the posted invoice. "
        "`void`: given up before it reached the ERP. `reversed`: applied, then undone by a "
        "reversing entry in the ERP."
    )
    posting_date: date | None
    erp_document_number: str | None
    reversal_document_number: str | None = Field(
        description="The ERP document number of the reversing entry of a reversed payment."
    )
    reversed_at: datetime | None
    refs: BackendRefs
    created_at: datetime


class PaymentResource(PaymentSummary):
    commission_lines: list[CommissionLine]
    last_run: RunSummary | None
    run_url: str | None
