"""What a posting reads of its legal entity, in one SQL Core statement and as it is now.

The entity's ERP connection and company, its closed-period policy, the accounting periods
a posting on a given day needs and its tax-code mappings come as the rows of one
`UNION ALL` (a row per period and per mapping, one for the entity), detached from any
session: no ORM rows, one statement instead of two. The periods are the two that decide
the posting date (`periods.resolve_posting_date`): the first (by start) covering the day,
and the first open one starting after that one ends, not every period of the entity (a
seeded entity has 25: each a row to load). Nothing is kept between postings: whoever
changes a period, a mapping or the policy (the ops API, the seed, an operator's hand-made
SQL), the next posting reads the change, in the same transaction that locks its invoice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    BindParameter,
    Cast,
    CompoundSelect,
    Date,
    Label,
    ScalarSelect,
    String,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.parties import ClosedPeriodPolicy, PeriodStatus
from core.db import table_of
from core.errors import NotFound
from core.models.legal_entity import AccountingPeriodRow, LegalEntityRow, TaxCodeMappingRow


@dataclass(frozen=True)
class Period:
    starts_on: date
    ends_on: date
    status: PeriodStatus


@dataclass(frozen=True)
class LegalEntitySnapshot:
    """What a posting reads of a legal entity, detached from any session."""

    id: str
    code: str
    erp_connection: str
    erp_company_id: str
    closed_period_policy: ClosedPeriodPolicy
    periods: tuple[Period, ...]  # by start: those a posting on the day read needs
    tax_codes: Mapping[str, str]  # canonical tax code -> ERP tax group

    def erp_tax_code(self, tax_code: str) -> str:
        """The ERP tax group of a canonical tax code: its mapping, or the code itself."""
        return self.tax_codes.get(tax_code, tax_code)


ENTITY, PERIOD, TAX_CODE = "e", "p", "t"


def _no_date() -> Cast[date]:
    return cast(null(), Date)


def _no_text() -> Cast[str]:
    return cast(null(), String)


def _kind(kind: str) -> Label[str]:
    return literal_column(f"'{kind}'", String).label("kind")


def _deciding_starts(
    legal_entity_id: BindParameter[str], on: BindParameter[date]
) -> tuple[ScalarSelect[date], ScalarSelect[date]]:
    """The starts of the periods that decide a posting date for the day `on`: the first
    period covering it, and the first open period starting after that one's end."""
    periods = table_of(AccountingPeriodRow)
    covering, later = periods.alias("covering"), periods.alias("later")
    covers = (
        covering.c.legal_entity_id == legal_entity_id,
        covering.c.starts_on <= on,
        covering.c.ends_on >= on,
    )
    covering_start = select(func.min(covering.c.starts_on)).where(*covers).scalar_subquery()
    covering_end = (
        select(covering.c.ends_on)
        .where(*covers)
        .order_by(covering.c.starts_on)
        .limit(1)
        .scalar_subquery()
    )
    next_open_start = (
        select(func.min(later.c.starts_on))
        .where(
            later.c.legal_entity_id == legal_entity_id,
            later.c.status == literal_column(f"'{PeriodStatus.OPEN.value}'", String),
            later.c.starts_on > covering_end,
        )
        .scalar_subquery()
    )
    return covering_start, next_open_start


def _snapshot_query() -> CompoundSelect[Any]:
    """The snapshot's one statement, its legal entity and day bind parameters
    (`legal_entity_id`, `on`)."""
    entities, periods, mappings = LegalEntityRow, AccountingPeriodRow, TaxCodeMappingRow
    legal_entity_id = bindparam("legal_entity_id", type_=String)
    covering_start, next_open_start = _deciding_starts(legal_entity_id, bindparam("on", type_=Date))
    return union_all(
        select(
            _kind(ENTITY),
            _no_date(),
            _no_date(),
            entities.code,
            entities.erp_company_id,
            entities.closed_period_policy,
            entities.erp_connection,
        ).where(entities.id == legal_entity_id),
        select(
            _kind(PERIOD),
            periods.starts_on,
            periods.ends_on,
            periods.status,
            _no_text(),
            _no_text(),
            _no_text(),
        ).where(
            periods.legal_entity_id == legal_entity_id,
            or_(periods.starts_on == covering_start, periods.starts_on == next_open_start),
        ),
        select(
            _kind(TAX_CODE),
            _no_date(),
            _no_date(),
            mappings.tax_code,
            mappings.erp_tax_code,
            _no_text(),
            _no_text(),
        ).where(mappings.legal_entity_id == legal_entity_id),
    )


# Built once: every execution hits the statement's memoized cache key and compiled form.
SNAPSHOT_QUERY = _snapshot_query()


async def legal_entity_snapshot(
    session: AsyncSession, legal_entity_id: str, *, on: date
) -> LegalEntitySnapshot:
    """The legal entity with the periods that decide a posting date for the day `on` and
    its tax-code mappings, read now in one statement; or 404."""
    connection = await session.connection()  # SQL Core: no ORM execution around it
    entity: tuple[str, str, str, str] | None = None
    found_periods: list[Period] = []
    tax_codes: dict[str, str] = {}
    for kind, starts_on, ends_on, first, second, third, fourth in await connection.execute(
        SNAPSHOT_QUERY, {"legal_entity_id": legal_entity_id, "on": on}
    ):
        if kind == ENTITY:
            entity = (first, second, third, fourth)
        elif kind == PERIOD:
            found_periods.append(Period(_date(starts_on), _date(ends_on), PeriodStatus(first)))
        else:
            tax_codes[first] = second
    if entity is None:
        raise NotFound(f"no legal entity {legal_entity_id}")
    code, erp_company_id, policy, erp_connection = entity
    return LegalEntitySnapshot(
        id=legal_entity_id,
        code=code,
        erp_connection=erp_connection,
        erp_company_id=erp_company_id,
        closed_period_policy=ClosedPeriodPolicy(policy),
        periods=tuple(sorted(found_periods, key=lambda period: period.starts_on)),
        tax_codes=tax_codes,
    )


def _date(value: date | str) -> date:
    """A date of the union's date columns (SQLite hands them back as their ISO text)."""
    return value if isinstance(value, date) else date.fromisoformat(value)
