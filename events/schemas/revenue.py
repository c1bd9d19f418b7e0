"""revenue.recognized / revenue.recognition_reversed: a month's recognition journaled, or undone."""

from __future__ import annotations

from datetime import date

from core.models.revenue import RecognitionRunRow
from core.models.workflow_run import WorkflowRunRow
from events.envelope import CloudEvent
from events.schemas.base import EventData


class RecognitionState(EventData):
    id: str
    legal_entity_id: str
    currency: str
    period_start: date
    period_end: date
    attempt: int
    deferred_total: int
    recognized_total: int
    entry_count: int
    journal_document_number: str | None
    posting_date: date | None
    status: str
    run_id: str


class RevenueRecognized(RecognitionState):
    event_type = "com.ledgergate.revenue.recognized.v1"


class RevenueRecognitionReversed(RecognitionState):
    event_type = "com.ledgergate.revenue.recognition_reversed.v1"

    reversal_document_number: str | None


def recognition_event(
    kind: type[RecognitionState], recognition: RecognitionRunRow, run: WorkflowRunRow
) -> CloudEvent:
    return kind.of(recognition, run_id=run.id).event(
        subject=recognition.id, fact=(run.id,), correlation_id=run.correlation_id
    )
