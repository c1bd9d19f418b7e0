"""The problems of run machinery, the same for every workflow."""

from __future__ import annotations

from core.errors import Conflict


class RunInProgress(Conflict):
    slug = "run-in-progress"
    title = "Another run is working on this object"


class RunNotReplayable(Conflict):
    slug = "run-not-replayable"
    title = "The run cannot be replayed in its current status"
