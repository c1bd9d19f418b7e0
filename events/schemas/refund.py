"""refund.booked, and dispute.opened / won / lost: the money-back documents of a payment."""

from __future__ import annotations

from datetime import date

from core.models.dispute import DisputeRow
from core.models.refund import RefundRow
from events.envelope import CloudEvent
from events.schemas.base import EventData


class RefundBooked(EventData):
    """The ERP holds the refund's credit memo (and, by policy, its customer refund)."""

    event_type = "com.ledgergate.refund.booked.v1"

    id: str
    payment_id: str
    invoice_id: str
    customer_id: str
    legal_entity_id: str
    currency: str
    amount: int
    source_ref: str
    policy: str
    credit_memo_id: str | None
    erp_refund_document_number: str | None
    refunded_on: date
    run_id: str


class DisputeState(EventData):
    id: str
    payment_id: str
    invoice_id: str
    customer_id: str
    legal_entity_id: str
    currency: str
    amount: int
    source_ref: str
    status: str
    fee: int | None
    erp_document_number: str | None


class DisputeOpened(DisputeState):
    """The invoice is disputed; the commission its payment earned is held."""

    event_type = "com.ledgergate.dispute.opened.v1"


class DisputeWon(DisputeState):
    """The hold is released: the commission settles as earned."""

    event_type = "com.ledgergate.dispute.won.v1"


class DisputeLost(DisputeState):
    """Write-off and fee journaled in the ERP; the commission clawed back."""

    event_type = "com.ledgergate.dispute.lost.v1"


def refund_booked(
    refund: RefundRow, *, run_id: str, correlation_id: str | None, partner_id: str | None
) -> CloudEvent:
    """One per refund: its id is the fact."""
    return RefundBooked.of(refund, run_id=run_id).event(
        subject=refund.payment_id,
        fact=(refund.id,),
        correlation_id=correlation_id,
        partner_id=partner_id,
    )


def dispute_event(
    kind: type[DisputeState], dispute: DisputeRow, *, partner_id: str | None
) -> CloudEvent:
    """One per dispute and change (its type and the dispute's id make its id)."""
    return kind.of(dispute).event(
        subject=dispute.payment_id, fact=(dispute.id,), partner_id=partner_id
    )
