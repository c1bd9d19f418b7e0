"""payment.applied / failed / reversed, and commission.earned / clawed_back (one per line)."""

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


class PaymentReversed(EventData):
    """The ERP booked the reversing entry; a paid invoice owes again (`invoice_status`)."""

    event_type = "com.ledgergate.payment.reversed.v1"

    id: str
    invoice_id: str
    customer_id: str
    legal_entity_id: str
    currency: str
    amount: int  # the amount reversed, as it was applied (positive)
    reason: str
    reversal_document_number: str | None
    reversal_posting_date: date | None
    invoice_status: str
    run_id: str


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


class CommissionClawedBack(CommissionEarned):
    """A claw-back line: the earned line `reverses_line_id` with the opposite sign
    (`base_amount` and `commission_amount` negative), settled like any line."""

    event_type = "com.ledgergate.commission.clawed_back.v1"

    reverses_line_id: str


def applied(
    payment: PaymentRow,
    run: WorkflowRunRow,
    earned: Iterable[CommissionLineRow],
    *,
    partner_id: str | None,
) -> list[CloudEvent]:
    """The payment applied and the commission lines it earned, committed together.

    `partner_id` is the payment's customer's (`events.attribution`)."""
    event = PaymentApplied.of(payment, run_id=run.id).event(
        subject=payment.id, fact=(run.id,), correlation_id=run.correlation_id, partner_id=partner_id
    )
    return [event, *(commission_earned(line, correlation_id=run.correlation_id) for line in earned)]


def payment_reversed(
    payment: PaymentRow,
    run: WorkflowRunRow,
    clawed: Iterable[CommissionLineRow],
    *,
    invoice_status: str,
    partner_id: str | None,
) -> list[CloudEvent]:
    """The payment reversed and the claw-back lines it made, committed together; the
    reversal's run is the fact."""
    data = PaymentReversed.of(
        payment,
        reason=str(run.params.get("reason", "")),
        invoice_status=invoice_status,
        run_id=run.id,
    )
    event = data.event(
        subject=payment.id, fact=(run.id,), correlation_id=run.correlation_id, partner_id=partner_id
    )
    return [event, *(clawed_back(line, correlation_id=run.correlation_id) for line in clawed)]


def failed(
    payment: PaymentRow,
    run: WorkflowRunRow,
    *,
    error_class: str,
    error_type: str | None,
    partner_id: str | None,
) -> CloudEvent:
    """One per failed attempt of the payment's run (a transient one is `exception.opened`)."""
    data = PaymentFailed.of(
        payment, run_id=run.id, attempt=run.attempts, error_class=error_class, error_type=error_type
    )
    return data.event(
        subject=payment.id,
        fact=(run.id, str(run.attempts)),
        correlation_id=run.correlation_id,
        partner_id=partner_id,
    )


def commission_earned(line: CommissionLineRow, *, correlation_id: str | None = None) -> CloudEvent:
    """A commission line is earned once: its id is the fact."""
    return CommissionEarned.of(line).event(
        subject=line.id,
        fact=(line.id,),
        correlation_id=correlation_id,
        partner_id=line.partner_id,
    )


def clawed_back(line: CommissionLineRow, *, correlation_id: str | None = None) -> CloudEvent:
    """A claw-back line is made once: its id is the fact (a line without
    `reverses_line_id` does not fit the schema)."""
    return CommissionClawedBack.of(line).event(
        subject=line.id,
        fact=(line.id,),
        correlation_id=correlation_id,
        partner_id=line.partner_id,
    )
