"""JSON logs on one line each, every line carrying the current correlation id."""

from __future__ import annotations

import logging
import sys
from typing import Any

from pythonjsonlogger.json import JsonEncoder, JsonFormatter

from core.context import correlation_id


class CorrelationIdFilter(logging.Filter):
    """Stamps the correlation id on every record (and drops uvicorn's ANSI-coloured copy)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation_id.get()
        record.__dict__.pop("color_message", None)
        return True


class LineFormatter(JsonFormatter):
    """pythonjsonlogger's lines, field for field, built with a few calls rather than ~40
    a record: the format's fields and their names are listed once, a record's extras are
    picked without a lookup each, and one encoder serves every line (`json.dumps` builds
    one per call). No `defaults` or `static_fields`: the gateway's lines have none."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._named = tuple((field, self._get_rename(field)) for field in self._required_fields)
        self._encoder = JsonEncoder()

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        attributes = record.__dict__
        for field, name in self._named:
            log_data[name] = attributes.get(field)
        renames, skip = self.rename_fields, self._skip_fields
        for key, value in message_dict.items():
            log_data[renames.get(key, key)] = value
        for key, value in attributes.items():
            if key not in skip and not (key.__class__ is str and key[:1] == "_"):
                log_data[renames[key] if key in renames else key] = value

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        return self._encoder.encode(log_data)


def configure_logging(level: str = "INFO") -> None:
    """Route every logger (ours, uvicorn's, SQLAlchemy's) through one JSON handler."""
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(CorrelationIdFilter())
    handler.setFormatter(
        LineFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            timestamp=False,
        )
    )
    # The lines name no source line, thread or process (the formatter leaves them out), so
    # a record does not look them up: a stack walk and three lookups per line (the logging
    # HOWTO's "Optimization").
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # replaced by `http.request` lines
