import copy
import enum
import io
import json
import logging
import sys
from datetime import UTC, datetime

import pytest
from pythonjsonlogger.json import JsonFormatter

from app.governance.logging import LineFormatter, configure_logging
from core.context import correlation_id
from tests.support.python_calls import profiled


def test_log_lines_are_json_with_the_correlation_id() -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    configure_logging("INFO")
    stream = io.StringIO()
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    token = correlation_id.set("cid-7")
    try:
        logging.getLogger("ledgergate.test").info("erp.post_invoice.retry", extra={"attempt": 2})
    finally:
        correlation_id.reset(token)
        root.handlers[:], root.level = saved_handlers, saved_level
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["message"] == "erp.post_invoice.retry"
    assert line["correlation_id"] == "cid-7"
    assert line["attempt"] == 2
    assert line["level"] == "INFO"


def test_a_line_costs_no_look_up_of_what_it_does_not_print() -> None:
    """No stack walk for the source line, no thread or process names: the lines hold none."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved = (
        logging._srcfile,
        logging.logThreads,
        logging.logProcesses,
        logging.logMultiprocessing,
    )
    configure_logging("INFO")
    stream = io.StringIO()
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    records: list[logging.LogRecord] = []

    def keep(record: logging.LogRecord) -> bool:
        records.append(record)
        return True

    root.handlers[0].addFilter(keep)
    try:
        logging.getLogger("ledgergate.test").info("http.request", extra={"status": 200})
    finally:
        root.handlers[:], root.level = saved_handlers, saved_level
        (
            logging._srcfile,
            logging.logThreads,
            logging.logProcesses,
            logging.logMultiprocessing,
        ) = saved
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert set(line) == {"time", "level", "logger", "message", "correlation_id", "status"}
    assert (records[0].funcName, records[0].threadName, records[0].processName) == (
        "(unknown function)",
        None,
        None,
    )


FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s"
RENAMES = {"asctime": "time", "levelname": "level", "name": "logger"}


class Kind(enum.Enum):
    POSTING = "posting"


def _record(
    message: object, extra: dict[str, object] | None = None, **attributes: object
) -> logging.LogRecord:
    record = logging.getLogger("ledgergate.test").makeRecord(
        "ledgergate.test", logging.INFO, "f.py", 1, message, (), None, extra=extra
    )
    record.correlation_id = "cid-7"
    record.__dict__.update(attributes)
    return record


def _failed() -> object:
    try:
        raise ValueError("boom")
    except ValueError:
        return sys.exc_info()


RECORDS = [
    _record("http.request", {"method": "POST", "status": 201, "duration_ms": 1.25}),
    _record({"event": "as a dict", "exc_info": "given"}),
    _record("failed", exc_info=_failed()),
    _record("stacked", stack_info="a stack"),
    _record("typed", {"at": datetime(2026, 1, 2, tzinfo=UTC), "kind": Kind.POSTING, "raw": b"x"}),
    _record("ünïcode", {"détail": "é", "_private": 1}),
]


@pytest.mark.parametrize("record", RECORDS)
def test_a_line_is_what_pythonjsonlogger_writes(record: logging.LogRecord) -> None:
    ours = LineFormatter(FORMAT, rename_fields=RENAMES, timestamp=False)
    theirs = JsonFormatter(FORMAT, rename_fields=RENAMES, timestamp=False)
    assert ours.format(copy.copy(record)) == theirs.format(copy.copy(record))


def test_a_line_costs_a_few_calls() -> None:
    """Every request writes its `http.request` line, and a posting four more."""
    formatter = LineFormatter(FORMAT, rename_fields=RENAMES, timestamp=False)
    record = _record("http.request", {"method": "POST", "path": "/v1/x", "status": 201})
    formatter.format(record)
    with profiled() as seen:
        formatter.format(record)
    assert seen.total_calls <= 30
