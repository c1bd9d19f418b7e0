"""exception.opened / exception.resolved, recorded as runs enter and leave the queue.

Every path that moves a run (a deferral, a failure, a replay's success, an operator's
resolve or discard, in any workflow) records them in the same transaction as the status
change, by one rule (`queue_events`) read off the run's changes since it was loaded or last
written: a flush of its row through the flush hook below, a SQL Core write of it through
`process_apis.runs.repository.write_run`. A run enters the queue when its status becomes
`pending_retry` or `failed`; it leaves it when it closes (`succeeded`, `resolved`,
`discarded`) having carried an error, or as an operator closes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import InstanceState, Session
from sqlalchemy.orm.base import NO_VALUE, PASSIVE_NO_RESULT

from core.models.workflow_run import RunStatus, WorkflowRunRow
from events.envelope import CloudEvent
from events.outbox import record_on
from events.schemas import exception

QUEUED = frozenset({RunStatus.PENDING_RETRY, RunStatus.FAILED})
CLOSED = frozenset({RunStatus.SUCCEEDED, RunStatus.RESOLVED, RunStatus.DISCARDED})
BY_OPERATOR = frozenset({RunStatus.RESOLVED, RunStatus.DISCARDED})


def queue_events(run: WorkflowRunRow) -> Iterator[CloudEvent]:
    """The queue's events of `run`'s status change, pending in its attributes (the ORM keeps
    their history on a detached run too): what any write of that change records with it."""
    state = inspect(run)
    status = _change(state, "status")
    if status is None or status[0] is NO_VALUE:
        return
    now = status[0]
    if now in QUEUED:
        yield exception.opened(run)
    elif now in BY_OPERATOR or (now in CLOSED and _replaced_error(state)):
        yield exception.resolved(run)


_UNCHANGED = object()


def _change(state: InstanceState[WorkflowRunRow], key: str) -> tuple[Any, Any] | None:
    """The pending change of the run's attribute `key` as `(now, before)` (`before` None
    when it held nothing), or none: its history's `added` and `deleted` as the ORM builds
    them (`History.from_scalar_attribute`), read off its committed state (a few calls, not
    the history's dozen)."""
    before = state.committed_state.get(key, _UNCHANGED)
    if before is _UNCHANGED:
        return None
    now = state.dict.get(key, NO_VALUE)
    if now is not NO_VALUE and now == before:
        return None
    return now, (None if before is NO_VALUE or before is PASSIVE_NO_RESULT else before)


def _replaced_error(state: InstanceState[WorkflowRunRow]) -> bool:
    """Whether the change pending on the run replaces an error it carried."""
    error = _change(state, "error_class")
    return error is not None and bool(error[1])


@event.listens_for(Session, "before_flush")
def _record_queue_changes(session: Session, _context: Any, _instances: Any) -> None:
    runs = [row for row in (*session.new, *session.dirty) if isinstance(row, WorkflowRunRow)]
    events = [found for run in runs for found in queue_events(run)]
    if events:
        record_on(session.connection(), events)
