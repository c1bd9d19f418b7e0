"""Request and response bodies of `/v1/posting-batches`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, model_validator

from core.canonical.base import InputModel, OutputModel
from core.canonical.documents import InvoiceCreate
from core.ids import id_pattern
from core.models.posting_batch import BatchStatus, ItemOutcome

MAX_ITEMS = 1000

InvoiceRef = Annotated[str, Field(pattern=id_pattern("invoice"))]


class PostingBatchCreate(InputModel):
    """The invoices to post: registered ones by id, or a billing run's new invoices to
    register and post. Exactly one of the two."""

    invoice_ids: list[InvoiceRef] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ITEMS,
        description="Registered invoices, each once.",
    )
    invoices: list[InvoiceCreate] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ITEMS,
        description="New invoices (as `POST /v1/invoices` takes them), registered together "
        "with the batch.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> PostingBatchCreate:
        if (self.invoice_ids is None) == (self.invoices is None):
            raise ValueError("name the invoices by `invoice_ids` or send them as `invoices`")
        if self.invoice_ids is not None and len(set(self.invoice_ids)) != len(self.invoice_ids):
            raise ValueError("an invoice is named twice in `invoice_ids`")
        return self


class PostingBatchItem(OutputModel):
    invoice_id: str
    outcome: ItemOutcome = Field(
        description="`pending` until posted; `queued`: the run waits in the exception queue "
        "for a retry; `failed`: for a person; `refused`: the posting could not start."
    )
    run_id: str | None = Field(description="The invoice's posting run.")
    run_url: str | None
    error_type: str | None = Field(description="The problem type of a failed item.")
    error_detail: str | None


class PostingBatchCounts(OutputModel):
    """Items per outcome."""

    pending: int
    posted: int
    already_posted: int
    queued: int
    failed: int
    refused: int


class PostingBatchResource(OutputModel):
    id: str
    status: BatchStatus
    created_at: datetime
    finished_at: datetime | None
    counts: PostingBatchCounts
    items: list[PostingBatchItem] = Field(description="One per invoice, in the request's order.")
