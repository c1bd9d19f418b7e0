"""What every `/v1` list shares: its filters and one keyset page of a document table.

A list is newest first and cursor-paginated by the rows' time-ordered ids (see
`core.pagination`), so pages stay stable while documents are inserted. Filters narrow
the rows before the page is cut: the legal entity, a range of the document's own date
(inclusive on both ends) and `updated_since` for callers that sync changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import Depends, Query
from sqlalchemy import ColumnElement, Date, Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.canonical.base import Day, Instant
from core.errors import LedgergateError
from core.ids import id_pattern
from core.pagination import DEFAULT_PAGE_SIZE, Cursor, PageSize, Row, keyset_page

LegalEntityFilter = Annotated[
    str | None,
    Query(pattern=id_pattern("legal_entity"), description="Only this legal entity's."),
]
CustomerFilter = Annotated[
    str | None, Query(pattern=id_pattern("customer"), description="Only this customer's.")
]
InvoiceFilter = Annotated[
    str | None, Query(pattern=id_pattern("invoice"), description="Only this invoice's.")
]
PartnerFilter = Annotated[
    str | None, Query(pattern=id_pattern("partner"), description="Only this partner's.")
]


class InvalidDateRange(LedgergateError):
    status_code = 422
    slug = "invalid-date-range"
    title = "The date range ends before it starts"


@dataclass(frozen=True)
class ListQuery:
    """The filters and page every list takes; the document's own filters come beside it."""

    legal_entity_id: str | None
    date_from: date | None
    date_to: date | None
    updated_since: Instant | None
    cursor: str | None
    limit: int

    def conditions(
        self,
        *,
        date_column: InstrumentedAttribute[Any],
        updated_column: InstrumentedAttribute[Any],
        legal_entity_column: InstrumentedAttribute[Any] | None,
    ) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.legal_entity_id is not None and legal_entity_column is not None:
            conditions.append(legal_entity_column == self.legal_entity_id)
        if self.date_from is not None:
            conditions.append(date_column >= _bound(date_column, self.date_from))
        if self.date_to is not None and self.date_to < date.max:
            conditions.append(date_column < _bound(date_column, self.date_to + timedelta(days=1)))
        if self.updated_since is not None:
            conditions.append(updated_column >= self.updated_since)
        return conditions


def _bound(column: InstrumentedAttribute[Any], day: date) -> date | datetime:
    """`day` as the column compares it: a date, or its first instant in UTC."""
    return day if isinstance(column.type, Date) else datetime.combine(day, time(), UTC)


async def list_query(
    legal_entity_id: LegalEntityFilter = None,
    date_from: Annotated[
        Day | None,
        Query(description="Only documents dated on or after this day (the document's own date)."),
    ] = None,
    date_to: Annotated[
        Day | None,
        Query(description="Only documents dated on or before this day (the document's own date)."),
    ] = None,
    updated_since: Annotated[
        Instant | None, Query(description="Only documents changed at or after this instant.")
    ] = None,
    cursor: Cursor = None,
    limit: PageSize = DEFAULT_PAGE_SIZE,
) -> ListQuery:
    if date_from is not None and date_to is not None and date_to < date_from:
        raise InvalidDateRange(f"date_to {date_to} is before date_from {date_from}")
    return ListQuery(legal_entity_id, date_from, date_to, updated_since, cursor, limit)


ListQueryDep = Annotated[ListQuery, Depends(list_query)]


async def list_rows(
    session: AsyncSession,
    query: Select[Row],
    id_column: InstrumentedAttribute[str],
    listing: ListQuery,
    *,
    date_column: InstrumentedAttribute[Any],
    updated_column: InstrumentedAttribute[Any],
    legal_entity_column: InstrumentedAttribute[Any] | None,
    equal: Mapping[InstrumentedAttribute[Any], object | None],
) -> tuple[list[Row], str | None]:
    """One page of `query`'s rows under the listing's filters and the given equalities.

    `equal` maps a column to the value it must have; a `None` value filters nothing.
    """
    conditions = listing.conditions(
        date_column=date_column,
        updated_column=updated_column,
        legal_entity_column=legal_entity_column,
    )
    conditions += [column == value for column, value in equal.items() if value is not None]
    return await keyset_page(
        session, query.where(*conditions), id_column, cursor=listing.cursor, limit=listing.limit
    )
