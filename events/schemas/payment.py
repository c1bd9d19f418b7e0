"""payment.applied / payment.failed, and commission.earned (one per commission line)."""

from __future__ import annotations

from collections.abc import Iterable
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
    status: str  # the payment's: recorded (queued for a person), or void (refused to its caller)
    run_id: str
    attempt: int
    error_class: str
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


def applied(
    payment: PaymentRow, run: WorkflowRunRow, earned: Iterable[CommissionLineRow]
) -> list[CloudEvent]:
    """The payment applied and the commission lines it earned, committed together."""
    event = PaymentApplied.of(payment, run_id=run.id).event(
        subject=payment.id, fact=(run.id,), correlation_id=run.correlation_id
    )
    return [event, *(commission_earned(line, correlation_id=run.correlation_id) for line in earned)]


def failed(
    payment: PaymentRow, run: WorkflowRunRow, *, error_class: str, error_type: str | None
) -> CloudEvent:
    """One per failed attempt of the payment's run (a transient one is `exception.opened`)."""
    data = PaymentFailed.of(
        payment, run_id=run.id, attempt=run.attempts, error_class=error_class, error_type=error_type
    )
    return data.event(
        subject=payment.id, fact=(run.id, str(run.attempts)), correlation_id=run.correlation_id
    )


def commission_earned(line: CommissionLineRow, *, correlation_id: str | None = None) -> CloudEvent:
    """A commission line is earned once: its id is the fact."""
    return CommissionEarned.of(line).event(
        subject=line.id,
        fact=(line.id,),
        correlation_id=correlation_id,
        partner_id=line.partner_id,
    )
