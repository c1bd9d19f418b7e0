"""reconciliation.completed: a reconciliation run finished, with its difference count."""

from __future__ import annotations

from core.models.reconciliation import ReconciliationRunRow
from events.envelope import CloudEvent
from events.schemas.base import EventData


class ReconciliationCompleted(EventData):
    event_type = "com.ledgergate.reconciliation.completed.v1"

    run_id: str
    legal_entity_id: str
    period: str
    trigger: str
    clean: bool | None
    difference_count: int


def completed(run: ReconciliationRunRow, *, correlation_id: str | None = None) -> CloudEvent:
    return ReconciliationCompleted.of(run, run_id=run.id).event(
        subject=run.id, fact=(run.id,), correlation_id=correlation_id
    )
