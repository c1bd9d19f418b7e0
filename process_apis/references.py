"""Backend cross-references: the keys our objects get in a backend, and recording them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.models.base import Base
from process_apis.runs.engine import digest


def billing_key(kind: str, object_id: str, body: object) -> str:
    """An idempotency key for creating our object in billing: our id and the body's digest.

    The same object with the same body is one billing object however often a run is
    replayed; a changed body is a new request rather than a refused key reuse.
    """
    return f"ledgergate:{kind}:{object_id}:{digest(body)[:16]}"


async def save_refs(
    sessionmaker: async_sessionmaker[AsyncSession],
    model: type[Base],
    object_id: str,
    **refs: str,
) -> None:
    """Record backend cross-references as soon as a step learns them.

    A later failure of the run then never makes a replay create the object again,
    even after the backend has forgotten the idempotency key.
    """
    async with sessionmaker.begin() as session:
        row = await session.get_one(model, object_id)
        for name, value in refs.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
