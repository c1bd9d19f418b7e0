"""What a posting reads of its legal entity, as columns joined to another statement and as
it is now.

The entity's ERP connection and company, its closed-period policy, the accounting periods
that decide a posting date and the tax-code mappings of the codes the invoice uses are
joined to the statement the posting's prepare already sends (`invoices.preparing`): no
statement of their own, no ORM rows. The periods are the two `periods.resolve_posting_date`
looks at: the first (by start) covering the day, and the first open one starting after that
one ends, not every period of the entity (a seeded entity has 25: each a row to load). Each
is joined as at most one row; the mappings as a row each (none: one row, without a
mapping). Nothing is kept between postings: whoever changes a period, a mapping or the
policy (the ops API, the seed, an operator's hand-made SQL), the next posting reads the
change, in the same transaction that locks its invoice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    BindParameter,
    FromClause,
    ScalarSelect,
    Select,
    String,
    and_,
    func,
    literal_column,
    select,
)

from core.canonical.parties import ClosedPeriodPolicy, PeriodStatus
from core.db import table_of
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
    periods: tuple[Period, ...]  # by start: those that decide the posting date of its day
    tax_codes: Mapping[str, str]  # canonical tax code -> ERP tax group, of the invoice's codes

    def erp_tax_code(self, tax_code: str) -> str:
        """The ERP tax group of a canonical tax code: its mapping, or the code itself."""
        return self.tax_codes.get(tax_code, tax_code)


ENTITIES = table_of(LegalEntityRow)
PERIODS = table_of(AccountingPeriodRow)
MAPPINGS = table_of(TaxCodeMappingRow)
_COVERING, _NEXT_OPEN = PERIODS.alias("covering_period"), PERIODS.alias("next_open_period")
_COLUMNS = (
    ENTITIES.c.code.label("entity_code"),
    ENTITIES.c.erp_company_id.label("entity_erp_company_id"),
    ENTITIES.c.closed_period_policy.label("entity_policy"),
    ENTITIES.c.erp_connection.label("entity_erp_connection"),
    *(
        period.c[name].label(f"{period.name}_{name}")
        for period in (_COVERING, _NEXT_OPEN)
        for name in ("starts_on", "ends_on", "status")
    ),
    MAPPINGS.c.tax_code.label("mapped_tax_code"),
    MAPPINGS.c.erp_tax_code.label("mapped_erp_tax_code"),
)
# Where each of them is in a row of a `joined` statement (its last columns), from its end.
_AT = {column.key: position - len(_COLUMNS) for position, column in enumerate(_COLUMNS)}


def _deciding_starts(
    legal_entity_id: BindParameter[str], on: BindParameter[date]
) -> tuple[ScalarSelect[date], ScalarSelect[date]]:
    """The starts of the periods that decide a posting date for the day `on`: the first
    period covering it, and the first open period starting after that one's end."""
    covering, later = PERIODS.alias("covering"), PERIODS.alias("later")
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


def joined(
    query: Select[Any],
    left: FromClause,
    *,
    legal_entity_id: BindParameter[str],
    on: BindParameter[date],
    tax_codes: Select[Any],
) -> Select[Any]:
    """`query` with the snapshot's columns of the legal entity `legal_entity_id` (inner
    joined to `left`'s table: a row only when the entity exists) for a posting on the day
    `on`, with the mappings of the codes `tax_codes` selects."""
    covering_start, next_open_start = _deciding_starts(legal_entity_id, on)
    # EXISTS, not IN: nothing expanded into the statement's text at an execution.
    used_code = tax_codes.where(tax_codes.selected_columns[0] == MAPPINGS.c.tax_code).exists()
    return (
        query.add_columns(*_COLUMNS)
        .join_from(left, ENTITIES, ENTITIES.c.id == legal_entity_id)
        .outerjoin_from(
            ENTITIES,
            _COVERING,
            and_(
                _COVERING.c.legal_entity_id == legal_entity_id,
                _COVERING.c.starts_on == covering_start,
            ),
        )
        .outerjoin_from(
            ENTITIES,
            _NEXT_OPEN,
            and_(
                _NEXT_OPEN.c.legal_entity_id == legal_entity_id,
                _NEXT_OPEN.c.starts_on == next_open_start,
            ),
        )
        .outerjoin_from(
            ENTITIES,
            MAPPINGS,
            and_(MAPPINGS.c.legal_entity_id == legal_entity_id, used_code),
        )
    )


def snapshot_of(legal_entity_id: str, rows: Sequence[Sequence[Any]]) -> LegalEntitySnapshot:
    """The snapshot in `rows` of a `joined` statement (at least one; a SQLAlchemy row or the
    driver's, `core.driver`)."""
    first = rows[0]
    periods = tuple(
        Period(first[starts_at], first[starts_at + 1], PeriodStatus(first[starts_at + 2]))
        for starts_at in (_AT["covering_period_starts_on"], _AT["next_open_period_starts_on"])
        if first[starts_at] is not None
    )
    code, erp_code = _AT["mapped_tax_code"], _AT["mapped_erp_tax_code"]
    return LegalEntitySnapshot(
        id=legal_entity_id,
        code=first[_AT["entity_code"]],
        erp_connection=first[_AT["entity_erp_connection"]],
        erp_company_id=first[_AT["entity_erp_company_id"]],
        closed_period_policy=ClosedPeriodPolicy(first[_AT["entity_policy"]]),
        periods=periods,
        tax_codes={row[code]: row[erp_code] for row in rows if row[code] is not None},
    )
