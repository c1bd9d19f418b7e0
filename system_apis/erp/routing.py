"""The ERP connection a company's calls go to, when the caller already knows it.

With several ERP connections, each port call is routed by the legal entity that names the
call's company (`app.erp_routing`), which is a read of the entity. A workflow that read its
legal entity in the transaction that planned its calls names the entity's connection for
them (`connection_known`), and the calls made inside go there without that read: the same
answer, read moments earlier, as a retry plans its calls again and reads it anew.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

_KNOWN: ContextVar[Mapping[str, str] | None] = ContextVar("erp_known_connections", default=None)


@contextmanager
def connection_known(company_id: str, connection: str) -> Iterator[None]:
    """Inside: calls naming `company_id` go to `connection` (the caller read it just now)."""
    token = _KNOWN.set({**(_KNOWN.get() or {}), company_id: connection})
    try:
        yield
    finally:
        _KNOWN.reset(token)


def known_connection(company_id: str) -> str | None:
    """The connection named for `company_id` by `connection_known`, if any."""
    known = _KNOWN.get()
    return None if known is None else known.get(company_id)
