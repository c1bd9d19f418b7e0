"""Request and response bodies of `/v2/invoices`.

What v2 changes in the contract: every amount is a `Money` object (`{"amount": 1999,
"currency": "USD"}`, integer minor units) instead of a bare integer beside one
invoice-level `currency`; a line has `unit_price`, `amount` and `tax`; the invoice's
sums are one `totals` object; the ERP document of a posting and the run of a posting
result are nested objects. Business rules are the canonical model's, unchanged.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field, StrictInt

from core.canonical.base import BackendRefs, Code, Day, InputModel, OutputModel, Versioned
from core.canonical.documents import (
    MAX_INVOICE_LINES,
    CreditMemoKind,
    CreditMemoStatus,
    InvoiceStatus,
)
from core.money import Money
from process_apis.invoices.schemas import CreditStatus, PostingState
from process_apis.runs.schemas import RunSummary


class InvoiceLineCreateV2(InputModel):
    description: Annotated[str, Field(min_length=1, max_length=100)] = Field(
        examples=["Pro plan, November 2026"]
    )
    quantity: Annotated[StrictInt, Field(ge=1, le=1_000_000)] = Field(examples=[1])
    unit_price: Money = Field(description="Price per unit; not negative.")
    amount: Money = Field(description="quantity × unit_price.")
    tax_code: Code = Field(description="Tax group code known to the ERP.", examples=["STANDARD"])
    tax: Money = Field(description="Tax on this line; not negative.")
    product_id: str | None = None


class InvoiceTotalsV2(InputModel):
    """The invoice's sums, each in the invoice's one currency."""

    subtotal: Money = Field(description="Sum of the lines' `amount`.")
    tax: Money = Field(description="Sum of the lines' `tax`.")
    total: Money = Field(description="subtotal + tax.")


class InvoiceCreateV2(InputModel):
    """An invoice to register. Every amount in it must be in the same currency."""

    customer_id: str
    invoice_date: Day = Field(description="Document date; the default posting date.")
    due_date: Day
    lines: list[InvoiceLineCreateV2] = Field(min_length=1, max_length=MAX_INVOICE_LINES)
    totals: InvoiceTotalsV2
    subscription_id: str | None = None


class InvoiceLineV2(OutputModel):
    id: str
    sequence: int
    description: str
    quantity: int
    unit_price: Money
    amount: Money
    tax_code: str
    tax: Money
    product_id: str | None


class ErpDocumentV2(OutputModel):
    """The ERP's sales document for the invoice."""

    id: str
    number: str | None = Field(description="The ERP's document number, once it assigned one.")


class InvoicePostingV2(OutputModel):
    """Where the invoice stands in the ERP."""

    posting_date: date | None = Field(description="The date it was (or is being) posted on.")
    posted_at: datetime | None = Field(description="When the ERP acknowledged the posting.")
    erp_document: ErpDocumentV2 | None = Field(
        description="The ERP document, once one was created."
    )


class CreditedLineV2(OutputModel):
    invoice_line_id: str
    quantity: int | None = Field(description="Units credited, when credited by quantity.")
    amount: Money = Field(description="Net amount credited.")
    tax: Money = Field(description="The line's tax credited in proportion.")


class InvoiceCreditMemoV2(OutputModel):
    """A credit memo against the invoice: a support credit or a correction of its lines."""

    id: str
    kind: CreditMemoKind
    status: CreditMemoStatus
    amount: Money = Field(description="The credit before tax.")
    erp_total: Money | None = Field(description="What the ERP credited, tax included.")
    lines: list[CreditedLineV2] = Field(description="A correction's credited lines.")


class InvoiceCreditV2(OutputModel):
    """What the invoice's credit memos and payments took off what it is owed."""

    status: CreditStatus = Field(
        description="`fully_credited` once credit memos posted in the ERP credit its total."
    )
    credited: Money = Field(description="What credit memos posted in the ERP credited.")
    paid: Money = Field(description="The cash payments applied in the ERP paid of it.")
    credit_applied: Money = Field(
        description="What credit memos applied to it for its payments paid: the customer's "
        "credit balance, the memos of downgrades billing collected with it.",
    )
    due: Money = Field(
        description="Total less credited, paid and credit applied, never below zero."
    )
    disputed: Money = Field(
        description="What open disputes (chargebacks not decided yet) of its payments contest."
    )
    credit_memos: list[InvoiceCreditMemoV2] = Field(description="Its credit memos, oldest first.")


class InvoiceV2(Versioned):
    customer_id: str
    legal_entity_id: str
    subscription_id: str | None
    invoice_date: date
    due_date: date
    status: InvoiceStatus
    lines: list[InvoiceLineV2]
    totals: InvoiceTotalsV2
    posting: InvoicePostingV2
    refs: BackendRefs
    last_run: RunSummary | None = Field(description="The most recent posting run, if any.")
    credit: InvoiceCreditV2 | None = Field(
        default=None, description="Its credit memos and the amount still due."
    )


class PostingRunV2(OutputModel):
    """The workflow run that posted (or will retry posting) the invoice."""

    id: str
    url: str = Field(description="Follow the run and its steps here.")
    retry_at: datetime | None = Field(description="When a queued run is retried next.")


class PostingResultV2(OutputModel):
    invoice_id: str
    state: PostingState = Field(
        description="`posted`: the ERP acknowledged it. `pending_retry`: a backend is down; "
        "the run is queued and will be retried (follow `run.url`)."
    )
    already_posted: bool = Field(
        description="True when an earlier request had already posted the invoice."
    )
    posting: InvoicePostingV2
    run: PostingRunV2
