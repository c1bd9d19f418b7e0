"""Counting the Python function calls a piece of code makes (load-independent work)."""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


@contextmanager
def python_calls(*, this_task_only: bool = False) -> Iterator[list[str]]:
    """The Python functions called (a generator or coroutine resumed counts again) while
    the block runs, as `file:function`; functions implemented in C are not counted. With
    `this_task_only`, only the calls of the asyncio task that entered the block: not those
    of other tasks run while it waits (a relay woken by the database, say)."""
    called: list[str] = []
    task = asyncio.current_task() if this_task_only else None

    def profile(frame: FrameType, event: str, _: Any) -> None:
        if event == "call" and (task is None or asyncio.current_task() is task):
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
