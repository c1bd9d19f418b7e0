"""The gateway's JSON log, configured as it serves (`configure_logging`), into a buffer."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from app.governance.logging import configure_logging

# What `configure_logging` sets beyond the root logger's handlers and level.
_FLAGS = ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing")
_QUIETED = ("httpx",)


@contextmanager
def json_log(level: str = "INFO") -> Iterator[io.StringIO]:
    """The lines written while the block runs; the logging as it was afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    flags = {name: getattr(logging, name) for name in _FLAGS}
    levels = {name: logging.getLogger(name).level for name in _QUIETED}
    configure_logging(level)
    lines = io.StringIO()
    root.handlers[0].setStream(lines)  # type: ignore[attr-defined]
    try:
        yield lines
    finally:
        root.handlers[:], root.level = saved
        for name, value in flags.items():
            setattr(logging, name, value)
        for name, value in levels.items():
            logging.getLogger(name).setLevel(value)
