"""Request and response bodies of `/v1/invoices`."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from core.canonical.base import Day, InputModel, OutputModel
from core.canonical.documents import (
    CreditMemoKind,
    CreditMemoStatus,
    Invoice,
    InvoicePosting,
    InvoiceStatus,
)
from process_apis.runs.schemas import RunRef, RunSummary


class CreditStatus(StrEnum):
    NOT_CREDITED = "not_credited"
    PARTIALLY_CREDITED = "partially_credited"
    FULLY_CREDITED = "fully_credited"


class CreditedLine(OutputModel):
    invoice_line_id: str
    quantity: int | None = Field(description="Units credited, when credited by quantity.")
    amount: int = Field(description="Net amount credited, in minor units.")
    tax_amount: int = Field(description="The line's tax credited in proportion.")


class InvoiceCreditMemo(OutputModel):
    """A credit memo against the invoice: a support credit or a correction of its lines."""

    id: str
    kind: CreditMemoKind
    status: CreditMemoStatus
    amount: int = Field(description="The credit before tax, in minor units.")
    erp_total_including_tax: int | None = Field(
        description="What the ERP credited, tax included, once posted."
    )
    lines: list[CreditedLine] = Field(description="A correction's credited lines.")


class InvoiceCredit(OutputModel):
    """What the invoice's credit memos and payments took off what it is owed."""

    status: CreditStatus = Field(
        description="`fully_credited` once credit memos posted in the ERP credit its total."
    )
    amount_credited: int = Field(
        description="What credit memos posted in the ERP credited, tax included."
    )
    amount_paid: int = Field(
        description="The cash payments applied in the ERP paid of it (a renewal's payment "
        "also paid the upgrades billing collected with it: those parts are not counted)."
    )
    amount_credit_applied: int = Field(
        default=0,
        description="What credit memos applied to it for its payments paid, tax included: "
        "the customer's credit balance billing netted, and the credit memos of downgrades "
        "billing collected with it. Kept when a payment's cash is reversed.",
    )
    amount_due: int = Field(
        description="Total less the amounts credited, paid and credit applied, never below zero."
    )
    amount_disputed: int = Field(
        default=0,
        description="What open disputes (chargebacks billing has not seen decided) of its "
        "payments contest; the commission those payments earned is held meanwhile.",
    )
    credit_memos: list[InvoiceCreditMemo] = Field(
        description="Its credit memos, oldest first, the rejected ones included."
    )


class InvoiceResource(Invoice):
    """An invoice with the latest workflow run that touched it, and its credits."""

    last_run: RunSummary | None = Field(
        default=None, description="The most recent posting run, if any."
    )
    credit: InvoiceCredit | None = Field(
        default=None, description="Its credit memos and the amount still due."
    )


class PostingCreate(InputModel):
    posting_date: Day | None = Field(
        default=None,
        description="Date to post on; defaults to the invoice date. A date in a closed period "
        "is refused or rolled to the next open period, by the legal entity's policy.",
    )


class PostingState(StrEnum):
    POSTED = "posted"
    PENDING_RETRY = "pending_retry"


class PostingResult(OutputModel):
    invoice_id: str
    state: PostingState = Field(
        description="`posted`: the ERP acknowledged it. `pending_retry`: a backend is down; "
        "the run is queued and will be retried (follow `run_url`)."
    )
    run_id: str
    run_url: str
    posting: InvoicePosting
    already_posted: bool = Field(
        default=False, description="True when an earlier request had already posted the invoice."
    )
    retry_at: datetime | None = None


class VoidCreate(InputModel):
    reason: Annotated[str, Field(min_length=1, max_length=400, pattern=r"\S")] = Field(
        description="Why the invoice is voided, kept on its run for the audit trail.",
        examples=["Registered twice by mistake"],
    )


class VoidResult(OutputModel):
    invoice_id: str
    status: InvoiceStatus = Field(description="`void`: it will never be posted.")
    reason: str
    already_voided: bool = Field(description="The invoice had been voided before this request.")
    run: RunRef = Field(
        description="The `invoice_void` run; `pending_retry` while billing is unreachable."
    )
