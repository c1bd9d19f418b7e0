"""credit_memo.requested / approved / posted."""

from __future__ import annotations

from datetime import date

from core.models.credit_memo import CreditMemoRow
from events.envelope import CloudEvent
from events.schemas.base import EventData


class CreditMemoState(EventData):
    id: str
    invoice_id: str
    customer_id: str
    legal_entity_id: str
    currency: str
    amount: int
    reason_code: str
    kind: str  # support (a support case's credit) or correction (of a posted invoice)
    status: str
    approval_required: bool | None


class CreditMemoRequested(CreditMemoState):
    event_type = "com.ledgergate.credit_memo.requested.v1"


class CreditMemoApproved(CreditMemoState):
    event_type = "com.ledgergate.credit_memo.approved.v1"

    approved_by: str | None


class CreditMemoPosted(CreditMemoState):
    event_type = "com.ledgergate.credit_memo.posted.v1"

    erp_document_number: str | None
    posting_date: date | None


def credit_memo_event(
    kind: type[CreditMemoState],
    memo: CreditMemoRow,
    *,
    partner_id: str | None,
    correlation_id: str | None = None,
) -> CloudEvent:
    """A credit memo reaches each of these states once: its id and the state are the fact.

    `partner_id` is the memo's customer's (`events.attribution`)."""
    return kind.of(memo).event(
        subject=memo.id,
        fact=(memo.id, kind.event_type),
        correlation_id=correlation_id,
        partner_id=partner_id,
    )
