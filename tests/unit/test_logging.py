import copy
import enum
import json
import logging
import sys
from datetime import UTC, datetime

import pytest
from pythonjsonlogger.json import JsonFormatter

from app.governance.logging import LineFormatter
from core.context import correlation_id
from tests.support.json_log import json_log
from tests.support.python_calls import profiled


def test_log_lines_are_json_with_the_correlation_id() -> None:
    token = correlation_id.set("cid-7")
    try:
        with json_log() as stream:
            logging.getLogger("ledgergate.test").info(
                "erp.post_invoice.retry", extra={"attempt": 2}
            )
    finally:
        correlation_id.reset(token)
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["message"] == "erp.post_invoice.retry"
    assert line["correlation_id"] == "cid-7"
    assert line["attempt"] == 2
    assert line["level"] == "INFO"


def test_a_line_costs_no_look_up_of_what_it_does_not_print() -> None:
    """No stack walk for the source line, no thread or process names: the lines hold none."""
    records: list[logging.LogRecord] = []

    def keep(record: logging.LogRecord) -> bool:
        records.append(record)
        return True

    with json_log() as stream:
        logging.getLogger().handlers[0].addFilter(keep)
        logging.getLogger("ledgergate.test").info("http.request", extra={"status": 200})
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
    """Every request writes its `http.request` line, and a posting its run's (25 calls
    before a plain record was encoded without pythonjsonlogger's layers)."""
    formatter = LineFormatter(FORMAT, rename_fields=RENAMES, timestamp=False)
    record = _record("http.request", {"method": "POST", "path": "/v1/x", "status": 201})
    formatter.format(record)
    with profiled() as seen:
        formatter.format(record)
    assert seen.total_calls <= 21


def test_a_record_is_written_in_a_few_calls() -> None:
    """From the logger's call to the line written (68 calls when a filter stamped the
    correlation id and the handler's `handle`, `emit` and `flush` each took its lock)."""
    logger = logging.getLogger("ledgergate.test")
    with json_log() as stream:
        logger.info("http.request", extra={"status": 201, "duration_ms": 1.5})
        with profiled() as seen:
            logger.info("http.request", extra={"status": 201, "duration_ms": 1.5})
    assert len(stream.getvalue().splitlines()) == 2
    assert seen.total_calls <= 50


@pytest.mark.parametrize(
    "created", [1_796_000_000.0, 1_796_000_000.999, 1_796_000_001.5, 86_399.25]
)
def test_a_line_s_time_is_the_standard_formatter_s(created: float) -> None:
    """The second's text is kept between lines: each line's time is still its own."""
    ours = LineFormatter(FORMAT, rename_fields=RENAMES, timestamp=False)
    theirs = logging.Formatter()
    for at in (created - 1, created, created + 0.5, created):
        record = _record("http.request")
        record.created, record.msecs = at, int((at - int(at)) * 1000) + 0.0
        assert ours.formatTime(record) == theirs.formatTime(record)
        assert json.loads(ours.format(record))["time"] == theirs.formatTime(record)
