"""Who waits on an ERP request, and so how much of the ERP's budget it may use.

Interactive work (a caller waits) may use the whole budget, bulk work (posting
batches) all but the interactive reserve, informational work (readiness probes) all
but twice it. Bulk work marks everything it calls with `prioritized`; the resilient
client reads `current_priority` for each request (`system_apis.budget`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum

FULL_SCALE = 1000
"""Budget shares and scales are in thousandths of the configured limits."""


class Priority(StrEnum):
    """Who waits on the request: it decides the share of the budget the request may use."""

    INTERACTIVE = "interactive"
    BULK = "bulk"
    INFORMATIONAL = "informational"

    def share(self, interactive_reserve: float) -> int:
        """The thousandths of the budget (window and concurrency) this priority may use."""
        reserved = {Priority.INTERACTIVE: 0, Priority.BULK: 1, Priority.INFORMATIONAL: 2}[self]
        return FULL_SCALE - round(FULL_SCALE * interactive_reserve * reserved)


current_priority: ContextVar[Priority] = ContextVar(
    "erp_budget_priority", default=Priority.INTERACTIVE
)
"""The priority of the work under way: ERP requests that name none take it. Bulk work
sets it around what it posts (`prioritized`), so every call on its way counts as bulk."""


@contextmanager
def prioritized(priority: Priority) -> Iterator[None]:
    token = current_priority.set(priority)
    try:
        yield
    finally:
        current_priority.reset(token)
