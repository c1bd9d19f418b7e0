"""Request and response bodies of `/v1/invoices`."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from core.canonical.base import Day, InputModel, OutputModel
from core.canonical.documents import Invoice, InvoicePosting, InvoiceStatus
from process_apis.runs.schemas import RunRef, RunSummary


class InvoiceResource(Invoice):
    """An invoice with the latest workflow run that touched it."""

    last_run: RunSummary | None = Field(
        default=None, description="The most recent posting run, if any."
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
