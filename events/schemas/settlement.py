"""settlement.posted / settlement.reversed: a partner statement journaled, or undone."""

from __future__ import annotations

from datetime import date

from core.models.settlement import SettlementRow
from core.models.workflow_run import WorkflowRunRow
from events.envelope import CloudEvent
from events.schemas.base import EventData


class SettlementState(EventData):
    id: str
    partner_id: str
    legal_entity_id: str
    period_start: date
    period_end: date
    currency: str
    total_commission: int
    adjustment_total: int
    line_count: int | None
    journal_document_number: str | None
    posting_date: date | None
    status: str
    run_id: str


class SettlementPosted(SettlementState):
    event_type = "com.ledgergate.settlement.posted.v1"


class SettlementReversed(SettlementState):
    event_type = "com.ledgergate.settlement.reversed.v1"

    reversal_document_number: str | None


def settlement_event(
    kind: type[SettlementState], settlement: SettlementRow, run: WorkflowRunRow
) -> CloudEvent:
    return kind.of(settlement, run_id=run.id).event(
        subject=settlement.id,
        fact=(run.id,),
        correlation_id=run.correlation_id,
        partner_id=settlement.partner_id,
    )
