"""A legal entity with its periods and tax codes, kept per process as of its version.

A posting needs the entity's calendar and tax-code mappings; read each time they cost two
statements and a few dozen ORM rows. Every change of the entity, its periods or its tax
codes moves the entity's version in the same transaction (`LegalEntityRow`), so a copy
read at version v is exact for as long as the row still carries v: the posting reads the
version with the invoice (`version_of`, a scalar subquery) and reads the entity again
only when the version moved. A closed or reopened period is therefore seen by the next
posting in every process, as it was without the copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ScalarSelect, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.parties import ClosedPeriodPolicy, PeriodStatus
from core.models.legal_entity import LegalEntityRow
from process_apis.cache import VersionedCache
from process_apis.legal_entities.repository import get_legal_entity


@dataclass(frozen=True)
class Period:
    starts_on: date
    ends_on: date
    status: PeriodStatus


@dataclass(frozen=True)
class LegalEntitySnapshot:
    """What a posting reads of a legal entity, detached from any session."""

    id: str
    version: int
    code: str
    erp_company_id: str
    closed_period_policy: ClosedPeriodPolicy
    periods: tuple[Period, ...]
    tax_codes: Mapping[str, str]  # canonical tax code -> ERP tax group

    @classmethod
    def of(cls, row: LegalEntityRow) -> LegalEntitySnapshot:
        return cls(
            id=row.id,
            version=row.version,
            code=row.code,
            erp_company_id=row.erp_company_id,
            closed_period_policy=ClosedPeriodPolicy(row.closed_period_policy),
            periods=tuple(
                Period(p.starts_on, p.ends_on, PeriodStatus(p.status)) for p in row.periods
            ),
            tax_codes={m.tax_code: m.erp_tax_code for m in row.tax_codes},
        )

    def erp_tax_code(self, tax_code: str) -> str:
        """The ERP tax group of a canonical tax code: its mapping, or the code itself."""
        return self.tax_codes.get(tax_code, tax_code)


def version_of(legal_entity_id: object) -> ScalarSelect[int]:
    """The legal entity's version as a scalar subquery, to ride along another read;
    `legal_entity_id`: the column (or value) naming the entity."""
    return (
        select(LegalEntityRow.version).where(LegalEntityRow.id == legal_entity_id).scalar_subquery()
    )


async def legal_entity_at(
    session: AsyncSession,
    cache: VersionedCache[str, object],
    legal_entity_id: str,
    version: int | None,
) -> LegalEntitySnapshot:
    """The legal entity as of `version` (read just now in `session`'s transaction): the
    process's copy when it was read at that version, else read again and kept."""
    if version is not None:
        cached = cache.get(legal_entity_id, version)
        if isinstance(cached, LegalEntitySnapshot):
            return cached
    snapshot = LegalEntitySnapshot.of(await get_legal_entity(session, legal_entity_id))
    cache.put(legal_entity_id, snapshot.version, snapshot)
    return snapshot
