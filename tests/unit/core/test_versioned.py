"""A row left as its SQL Core write stored it: what `set_committed_value` leaves, column by
column, in one call into the ORM's state."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect
from sqlalchemy.orm import make_transient_to_detached

from core.models.workflow_run import RunStatus, WorkflowRunRow
from core.versioned import leave_written, set_committed, versioned_write
from tests.support.python_calls import python_calls


def stored_run() -> WorkflowRunRow:
    run = WorkflowRunRow(id="run_1", workflow="w", subject_id="s", status=RunStatus.RUNNING)
    run.version, run.result, run.finished_at = 3, None, None
    make_transient_to_detached(run)
    return run


def test_a_row_set_committed_holds_the_values_with_no_change_pending() -> None:
    run = stored_run()
    run.status = RunStatus.SUCCEEDED  # a change pending, as a closing makes it
    finished = datetime(2026, 12, 7, tzinfo=UTC)

    set_committed(run, {"status": RunStatus.SUCCEEDED, "finished_at": finished})

    state = inspect(run)
    assert (run.status, run.finished_at) == (RunStatus.SUCCEEDED, finished)
    assert state.committed_state == {}
    assert not state.attrs.status.history.has_changes()


def test_set_committed_takes_columns_of_the_row_only() -> None:
    with pytest.raises(AssertionError):
        set_committed(stored_run(), {"no_such_column": 1})


def test_a_written_run_is_left_in_one_call_into_the_orm_s_state() -> None:
    run = stored_run()
    run.status = RunStatus.SUCCEEDED
    write = versioned_write(run, ("status", "result", "finished_at"))

    with python_calls() as called:
        leave_written(run, write)

    # Three calls a column (five columns, the version and `updated_at` among them) when
    # each was set by `set_committed_value`.
    assert len([call for call in called if "/sqlalchemy/" in call]) == 1
    assert (run.version, inspect(run).committed_state) == (4, {})
    assert run.updated_at == write.rows[0]["updated_at"]
