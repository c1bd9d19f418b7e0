"""Request-scoped context shared by every tier: the correlation id of the current request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)


@contextmanager
def correlated(cid: str | None) -> Iterator[None]:
    """Work done outside a request (a run's retry) carries `cid` into logs and backends."""
    token = correlation_id.set(cid)
    try:
        yield
    finally:
        correlation_id.reset(token)
