"""invoice.registered / posted / posting_failed / voided."""

from __future__ import annotations

from datetime import date, datetime

from core.models.invoice import InvoiceRow
from core.models.workflow_run import WorkflowRunRow
from events.envelope import CloudEvent
from events.schemas.base import EventData


class InvoiceRegistered(EventData):
    event_type = "com.ledgergate.invoice.registered.v1"

    id: str
    customer_id: str
    legal_entity_id: str
    subscription_id: str | None
    currency: str
    invoice_date: date
    due_date: date
    subtotal: int
    tax_total: int
    total: int


class InvoicePosted(EventData):
    event_type = "com.ledgergate.invoice.posted.v1"

    id: str
    customer_id: str
    legal_entity_id: str
    currency: str
    total: int
    status: str  # posted, or posting_mismatch when the ERP's totals differ
    erp_document_number: str | None
    posting_date: date | None
    posted_at: datetime | None
    run_id: str


class InvoicePostingFailed(EventData):
    """A posting attempt that needs a person (business, auth or contract error) or was
    refused to its caller; a transient failure retried by itself is `exception.opened`."""

    event_type = "com.ledgergate.invoice.posting_failed.v1"

    id: str
    status: str  # the invoice's after the failure: open again, or still posting
    run_id: str
    attempt: int
    error_class: str
    error_type: str | None


class InvoiceVoided(EventData):
    event_type = "com.ledgergate.invoice.voided.v1"

    id: str
    customer_id: str
    currency: str
    total: int
    run_id: str


def registered(
    invoice: InvoiceRow, *, partner_id: str | None, correlation_id: str | None = None
) -> CloudEvent:
    """`partner_id` is the invoice's customer's (`events.attribution`), as for every
    invoice event."""
    data = InvoiceRegistered.of(invoice)
    return data.event(
        subject=invoice.id, fact=(invoice.id,), correlation_id=correlation_id, partner_id=partner_id
    )


def posted(invoice: InvoiceRow, run: WorkflowRunRow, *, partner_id: str | None) -> CloudEvent:
    data = InvoicePosted.of(invoice, run_id=run.id)
    return data.event(
        subject=invoice.id,
        fact=(run.id,),
        correlation_id=run.correlation_id,
        partner_id=partner_id,
    )


def posting_failed(
    invoice: InvoiceRow,
    run: WorkflowRunRow,
    *,
    error_class: str,
    error_type: str | None,
    partner_id: str | None,
) -> CloudEvent:
    """One per failed attempt of the posting run (its attempt number is in the fact)."""
    data = InvoicePostingFailed.of(
        invoice, run_id=run.id, attempt=run.attempts, error_class=error_class, error_type=error_type
    )
    return data.event(
        subject=invoice.id,
        fact=(run.id, str(run.attempts)),
        correlation_id=run.correlation_id,
        partner_id=partner_id,
    )


def voided(invoice: InvoiceRow, run: WorkflowRunRow, *, partner_id: str | None) -> CloudEvent:
    data = InvoiceVoided.of(invoice, run_id=run.id)
    return data.event(
        subject=invoice.id,
        fact=(run.id,),
        correlation_id=run.correlation_id,
        partner_id=partner_id,
    )
