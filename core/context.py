"""Request-scoped context shared by every tier: the correlation id of the current request."""

from __future__ import annotations

from contextvars import ContextVar

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
