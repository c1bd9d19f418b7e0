"""Counting the Python function calls a piece of code makes (load-independent work)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


@contextmanager
def python_calls() -> Iterator[list[str]]:
    """The Python functions called (a generator or coroutine resumed counts again) while
    the block runs, as `file:function`; functions implemented in C are not counted."""
    called: list[str] = []

    def profile(frame: FrameType, event: str, _: Any) -> None:
        if event == "call":
            called.append(f"{frame.f_code.co_filename}:{frame.f_code.co_name}")

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield called
    finally:
        sys.setprofile(previous)
