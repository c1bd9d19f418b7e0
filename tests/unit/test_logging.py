import io
import json
import logging

from app.governance.logging import configure_logging
from core.context import correlation_id


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
