"""JSON logs on one line each, every line carrying the current correlation id."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from pythonjsonlogger.json import JsonEncoder, JsonFormatter

from core.context import correlation_id


class LineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes each record as one line, stamped with the current correlation id (uvicorn's
    ANSI-coloured copy of its message dropped), in a few calls: no filter chain unless
    filters were added, the formatter called directly, one lock around the write and its
    flush (`handle`, `emit` and `flush` take it in turn otherwise)."""

    def handle(self, record: logging.LogRecord) -> bool:
        if self.filters and not self.filter(record):
            return False
        record.correlation_id = correlation_id.get()
        record.__dict__.pop("color_message", None)
        try:
            line = self.formatter.format(record) + self.terminator  # type: ignore[union-attr]
            with self.lock:  # type: ignore[union-attr]
                self.stream.write(line)
                self.stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)
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
        self._uses_time = "asctime" in self._required_fields
        self._second: tuple[int, str] = (-1, "")  # the last second's text, and which

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        """`logging.Formatter.formatTime`'s text; without `datefmt`, the second's part is
        converted and formatted once per second (every line of a second shares it)."""
        if datefmt is not None or record.created < 0:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if second != self._second[0]:
            text = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = (second, text)
        text = self._second[1]
        return self.default_msec_format % (text, record.msecs) if self.default_msec_format else text

    def format(self, record: logging.LogRecord) -> str:
        """A plain record (a message that is no dict, no exception or stack) built and
        encoded directly; any other as pythonjsonlogger formats it."""
        if record.exc_info or record.exc_text or record.stack_info or isinstance(record.msg, dict):
            return super().format(record)
        record.message = record.getMessage()
        if self._uses_time:
            record.asctime = self.formatTime(record, self.datefmt)
        log_data: dict[str, Any] = {}
        self.add_fields(log_data, record, {})
        return self.prefix + self._encoder.encode(log_data)

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
    handler = LineHandler(sys.stdout)
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
    # httpx writes a line per request at INFO; the gateway's backend requests are in its
    # metrics and its runs' records, and their URLs (query strings too) stay out of the log.
    quiet = logging.NOTSET if root.level <= logging.DEBUG else logging.WARNING
    logging.getLogger("httpx").setLevel(quiet)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # replaced by `http.request` lines
