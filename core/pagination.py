"""Keyset (cursor) pagination: stable under inserts, constant time per page at any depth.

Lists order by a time-ordered id, newest first. The cursor is the last id of the
page, opaque to clients (base64url), and the next page is `WHERE id < cursor`.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Generic, Protocol, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.errors import BadRequest

T = TypeVar("T")

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50

PageSize = Annotated[
    int,
    Query(ge=1, le=MAX_PAGE_SIZE, description=f"Items per page (at most {MAX_PAGE_SIZE})."),
]
Cursor = Annotated[
    str | None,
    Query(max_length=200, description="`next_cursor` of the previous page; omit for the first."),
]


class InvalidCursor(BadRequest):
    slug = "invalid-cursor"
    title = "The pagination cursor is not one this API issued"


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidCursor("the cursor is malformed; restart from the first page") from error
    if not value or not value.isprintable() or len(value) > 80:
        raise InvalidCursor("the cursor is malformed; restart from the first page")
    return value


def next_cursor(ids: list[str], limit: int) -> str | None:
    """Given the ids of up to `limit + 1` fetched rows, the cursor for the next page."""
    return encode_cursor(ids[limit - 1]) if len(ids) > limit else None


class HasId(Protocol):
    id: str


Row = TypeVar("Row", bound=HasId)


async def keyset_page(
    session: AsyncSession,
    query: Select[Row],
    id_column: InstrumentedAttribute[str],
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[Row], str | None]:
    """One page of `query`, newest id first, after `cursor`; and the next page's cursor."""
    if (after := decode_cursor(cursor)) is not None:
        query = query.where(id_column < after)
    rows = list(await session.scalars(query.order_by(id_column.desc()).limit(limit + 1)))
    return rows[:limit], next_cursor([row.id for row in rows], limit)
