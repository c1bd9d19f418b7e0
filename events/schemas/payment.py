"""payment.applied / payment.failed, and commission.earned (one per commission line)."""

from __future__ import annotations

from datetime import date

from core.models.commission_line import CommissionLineRow
from core.models.payment import PaymentRow
from core.models.workflow_run import WorkflowRunRow
from events.envelope import CloudEvent
from events.schemas.base import EventData


class PaymentApplied(EventData):
    event_type = "com.ledgergate.payment.applied.v1"

    id: str
    invoice_id: str
    customer_id: str
    legal_entity_id: str
    currency: str
    amount: int
    paid_on: date
    source: str
    erp_document_number: str | None
    run_id: str


class PaymentFailed(EventData):
    event_type = "com.ledgergate.payment.failed.v1"

    id: str
    invoice_id: str
    currency: str
    amount: int
    status: str  # the payment's
    run_id: str
    run_status: str  # pending_retry, failed (the exception queue) or rejected (the caller's)
    error_class: str | None
    error_type: str | None


class CommissionEarned(EventData):
    event_type = "com.ledgergate.commission.earned.v1"

    id: str
    payment_id: str
    invoice_id: str
    customer_id: str
    partner_id: str
    legal_entity_id: str
    currency: str
    paid_on: date
    eligible: bool
    eligibility_reason: str
    plan_code: str
    rate_card_version: int | None
    rate_bps: int
    base_amount: int
    commission_amount: int


def applied(payment: PaymentRow, run: WorkflowRunRow) -> CloudEvent:
    return PaymentApplied.of(payment, run_id=run.id).event(
        subject=payment.id, fact=(run.id,), correlation_id=run.correlation_id
    )


def failed(payment: PaymentRow, run: WorkflowRunRow) -> CloudEvent:
    """One per failed attempt of the payment's run."""
    data = PaymentFailed.of(
        payment,
        run_id=run.id,
        run_status=run.status,
        error_class=run.error_class,
        error_type=run.error_type,
    )
    return data.event(
        subject=payment.id, fact=(run.id, str(run.attempts)), correlation_id=run.correlation_id
    )


def earned(line: CommissionLineRow, *, correlation_id: str | None = None) -> CloudEvent:
    """A commission line is earned once: its id is the fact."""
    return CommissionEarned.of(line).event(
        subject=line.id,
        fact=(line.id,),
        correlation_id=correlation_id,
        partner_id=line.partner_id,
    )
