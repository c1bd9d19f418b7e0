"""A write's audit row, for the transaction that ends the write to carry.

The edge's audit middleware appends one row per write after the response is sent, in a
transaction of its own. A write that commits its final state anyway (the idempotency
store's completion) takes the row into that transaction instead: one commit fewer, and
the row lands with the answer it records. The middleware then writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

STATE_KEY = "pending_audit"


@dataclass
class PendingAudit:
    """The request's audit row, made from the answer's status and `Location` once known: its
    columns (`AuditEventRow`'s; those left out take their defaults), for SQL Core to insert
    with no ORM object made of them."""

    values: Callable[[int, str | None], dict[str, Any]]
    written: bool = False


def pending_audit(state: MutableMapping[str, Any]) -> PendingAudit | None:
    """The request's pending audit row (`scope["state"]`), when the edge audits it."""
    pending = state.get(STATE_KEY)
    return pending if isinstance(pending, PendingAudit) else None
