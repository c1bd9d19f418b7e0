"""The staging table: each side's documents written page by page, read back key by key.

No side is ever sorted by our key where it lives (the ERP pages by its own number,
billing newest first), so the database sorts: what was read is written in batches,
one short transaction each and never one open while a backend is awaited, and the
comparison streams the documents grouped by key through a server-side cursor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from core.models.credit_memo import CreditMemoRow
from core.models.invoice import InvoiceRow
from core.models.payment import PaymentRow
from core.models.reconciliation import ReconciliationItemRow as Item
from process_apis.reconciliation.schemas import Side
from process_apis.reconciliation.sources import COLUMNS, PAID, UNLINKED, Row, Scope, gateway_selects

BATCH = 2000
STREAM_ROWS = 1000


async def stage(sessionmaker: async_sessionmaker[AsyncSession], rows: AsyncIterator[Row]) -> None:
    """Write `rows` in batches; the batch is read before its transaction opens."""
    batch: list[Row] = []
    async for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            await _write(sessionmaker, batch)
            batch = []
    if batch:
        await _write(sessionmaker, batch)


async def _write(sessionmaker: async_sessionmaker[AsyncSession], batch: list[Row]) -> None:
    async with sessionmaker.begin() as session:
        await session.execute(insert(Item), batch)


async def stage_gateway(sessionmaker: async_sessionmaker[AsyncSession], scope: Scope) -> None:
    """Copy the gateway's documents of the period inside the database."""
    async with sessionmaker.begin() as session:
        for query in gateway_selects(scope):
            await session.execute(insert(Item).from_select(list(COLUMNS), query))


async def link_billing(sessionmaker: async_sessionmaker[AsyncSession], scope: Scope) -> None:
    """Key billing's documents by the gateway document linked to them, and drop the rest
    that are not this period's to report: dated outside it, or linked to a gateway
    document of another period (or one not posted yet, which is the ERP's difference)."""
    gateway = aliased(Item)
    billing = and_(Item.run_id == scope.run_id, Item.side == Side.BILLING.value)
    known = or_(
        exists().where(InvoiceRow.billing_ref == Item.link),
        exists().where(CreditMemoRow.billing_ref == Item.link),
        exists().where(PaymentRow.source_ref == func.substr(Item.link, len(PAID) + 1)),
    )
    async with sessionmaker.begin() as session:
        # Fresh statistics (the same statement on both databases): without them the
        # planner takes the freshly filled table for empty and joins it row by row.
        await session.execute(text(f"ANALYZE {Item.__tablename__}"))
        await session.execute(  # UPDATE ... FROM: one join, not a lookup per row
            update(Item)
            .where(
                billing,
                gateway.run_id == scope.run_id,
                gateway.side == Side.GATEWAY.value,
                gateway.link == Item.link,
            )
            .values(key=gateway.key)
            .execution_options(synchronize_session=False)
        )
        unlinked = and_(billing, Item.key.startswith(UNLINKED))
        await session.execute(
            delete(Item)
            .where(unlinked, or_(~Item.dated.between(scope.start, scope.end), known))
            .execution_options(synchronize_session=False)
        )


async def discard(sessionmaker: async_sessionmaker[AsyncSession], run_id: str) -> None:
    async with sessionmaker.begin() as session:
        await session.execute(delete(Item).where(Item.run_id == run_id))


@dataclass(frozen=True)
class Side3:
    """What one side holds under a key: how many documents, and their sums."""

    count: int
    document_type: str | None
    currency: str | None
    amount: int | None
    tax: int | None
    ref: str | None
    number: str | None


@dataclass(frozen=True)
class Grouped:
    """One key's documents on each side, and what the gateway expects billing to show."""

    key: str
    gateway: Side3
    billing: Side3
    erp: Side3
    billed: int | None
    link: str | None


def _side(side: Side) -> list[ColumnElement[Any]]:
    def of(column: Any) -> ColumnElement[Any]:
        return case((Item.side == side.value, column))

    return [
        func.count(func.distinct(of(func.coalesce(Item.number, Item.ref, Item.key))))
        if side == Side.ERP
        else func.count(of(Item.id)),
        func.max(of(Item.document_type)),
        func.max(of(Item.currency)),
        func.sum(of(Item.amount)),
        func.sum(of(Item.tax)),
        func.max(of(Item.ref)),
        func.max(of(Item.number)),
    ]


async def grouped(session: AsyncSession, run_id: str) -> AsyncIterator[Grouped]:
    """Every staged key in key order, its three sides side by side, streamed."""
    columns = [
        *_side(Side.GATEWAY),
        *_side(Side.BILLING),
        *_side(Side.ERP),
        func.sum(case((Item.side == Side.GATEWAY.value, Item.billed))),
        func.max(case((Item.side == Side.GATEWAY.value, Item.link))),
    ]
    query = (
        select(Item.key, *columns)
        .where(Item.run_id == run_id)
        .group_by(Item.key)
        .order_by(Item.key)
        .execution_options(yield_per=STREAM_ROWS)
    )
    result = await session.stream(query)
    async for row in result:
        values: tuple[Any, ...] = tuple(row)
        yield Grouped(
            key=values[0],
            gateway=Side3(*values[1:8]),
            billing=Side3(*values[8:15]),
            erp=Side3(*values[15:22]),
            billed=values[22],
            link=values[23],
        )
