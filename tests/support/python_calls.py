"""Counting the Python function calls a piece of code makes (load-independent work)."""

from __future__ import annotations

import cProfile
import pstats
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


class profiled:  # noqa: N801 (used as a context manager, as `python_calls` is)
    """cProfile's account of a `with` block, C functions counted too; the block's own
    exit adds one call to it (a generator-based manager would add three)."""

    def __enter__(self) -> profiled:
        self._profile = cProfile.Profile()
        self._profile.enable()
        return self

    def __exit__(self, *_: object) -> None:
        self._profile.disable()
        self.stats = pstats.Stats(self._profile)

    @property
    def total_calls(self) -> int:
        return int(self.stats.total_calls)  # type: ignore[attr-defined]

    @property
    def entries(self) -> Any:
        """cProfile's `(file, line, function): (primitive calls, calls, ...)` items."""
        return self.stats.stats.items()  # type: ignore[attr-defined]
