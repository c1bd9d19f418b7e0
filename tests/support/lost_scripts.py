"""A Redis that lost its scripts (a restart, `SCRIPT FLUSH`), without flushing one that the
other test processes share: the client asks for each script by a digest no server holds,
so Redis answers `NOSCRIPT` as it would after a flush, and the client must send it again."""

from __future__ import annotations

from typing import Any

UNKNOWN_DIGEST = "0" * 40


def lose_scripts(*scripts: Any) -> None:
    """Make the server answer `NOSCRIPT` to the next call of each of `scripts`
    (redis-py's registered `AsyncScript`s)."""
    for script in scripts:
        script.sha = UNKNOWN_DIGEST
