"""The functions on the stack, for tests that check a wrapper keeps no frame of its own."""

from __future__ import annotations

import sys


def callers() -> list[str]:
    """The qualified names of the functions on the caller's stack, innermost first."""
    names, frame = [], sys._getframe(1)
    while frame is not None:
        names.append(frame.f_code.co_qualname)
        frame = frame.f_back  # type: ignore[assignment]
    return names
