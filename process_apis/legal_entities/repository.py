"""Reads of legal entities and their accounting periods."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from core.errors import NotFound
from core.models.legal_entity import LegalEntityRow


async def list_legal_entities(session: AsyncSession) -> Sequence[LegalEntityRow]:
    rows = await session.scalars(
        select(LegalEntityRow)
        .options(selectinload(LegalEntityRow.periods), selectinload(LegalEntityRow.tax_codes))
        .order_by(LegalEntityRow.code)
    )
    return rows.all()


async def get_legal_entity(session: AsyncSession, legal_entity_id: str) -> LegalEntityRow:
    """A legal entity with its tax code mappings (joined: a few rows) and its periods."""
    query = (
        select(LegalEntityRow)
        .where(LegalEntityRow.id == legal_entity_id)
        .options(joinedload(LegalEntityRow.tax_codes), selectinload(LegalEntityRow.periods))
    )
    row = (await session.execute(query)).unique().scalar_one_or_none()
    if row is None:
        raise NotFound(f"no legal entity {legal_entity_id}")
    return row
