"""exception.opened / exception.resolved: a run entering or leaving the exception queue."""

from __future__ import annotations

from core.models.workflow_run import WorkflowRunRow
from events.envelope import CloudEvent
from events.schemas.base import EventData


class ExceptionOpened(EventData):
    event_type = "com.ledgergate.exception.opened.v1"

    run_id: str
    workflow: str
    subject_id: str
    status: str  # pending_retry (retried when due) or failed (waits for a person)
    error_class: str | None
    error_type: str | None
    attempts: int


class ExceptionResolved(EventData):
    event_type = "com.ledgergate.exception.resolved.v1"

    run_id: str
    workflow: str
    subject_id: str
    status: str  # succeeded (a retry or replay), resolved or discarded (a person), rejected
    attempts: int


def opened(run: WorkflowRunRow) -> CloudEvent:
    """Once per attempt that left the run queued."""
    return ExceptionOpened.of(run, run_id=run.id).event(
        subject=run.subject_id,
        fact=(run.id, str(run.attempts), run.status),
        correlation_id=run.correlation_id,
    )


def resolved(run: WorkflowRunRow) -> CloudEvent:
    """Once per run: a run leaves the queue for good only once."""
    return ExceptionResolved.of(run, run_id=run.id).event(
        subject=run.subject_id, fact=(run.id,), correlation_id=run.correlation_id
    )
