"""Reads and writes of usage reports and their passes, and the stamping of usage events.

A pass stamps with one `UPDATE ... WHERE report_pass_id IS NULL` per kind (the period's
own events, and older periods' events that arrived after their period was invoiced):
on the partial index of unreported events, a statement touches only what is new.
An event committed after the statement began is not stamped, so it is not counted: the
next pass takes it. Counting what is stamped is therefore exact under concurrent ingestion.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Table, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.usage_event import UsageEventRow
from core.models.usage_report import (
    UsagePassStatus,
    UsageReportPassRow,
    UsageReportRow,
    UsageReportStatus,
)
from process_apis.usage.aggregation import Item
from process_apis.usage.periods import Period


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def items_to_report(session: AsyncSession, *, limit: int) -> list[tuple[str, str]]:
    """Subscription items with events no pass counted, or with a report still open."""
    unreported = (
        select(UsageEventRow.subscription_id, UsageEventRow.price_id)
        .where(UsageEventRow.report_pass_id.is_(None))
        .distinct()
    )
    open_reports = select(UsageReportRow.subscription_id, UsageReportRow.price_id).where(
        UsageReportRow.status == UsageReportStatus.OPEN
    )
    union = unreported.union(open_reports).subquery()
    rows = await session.execute(
        select(union.c.subscription_id, union.c.price_id)
        .order_by(union.c.subscription_id, union.c.price_id)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in rows]


def _insert(dialect: str) -> Insert:
    table = UsageReportRow.__table__
    assert isinstance(table, Table)
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing(
        index_elements=[table.c.subscription_id, table.c.price_id, table.c.period_start]
    )


async def report_for(session: AsyncSession, item: Item, period: Period) -> UsageReportRow:
    """The item's report for `period`, made when missing (concurrent makers agree)."""
    connection = await session.connection()
    await connection.execute(
        _insert(connection.dialect.name),
        [
            {
                "subscription_id": item.subscription_id,
                "price_id": item.price_id,
                "period_start": period.start,
                "period_end": period.end,
                "status": UsageReportStatus.OPEN,
                "reported_micros": 0,
            }
        ],
    )
    found = await session.scalar(
        select(UsageReportRow).where(
            UsageReportRow.subscription_id == item.subscription_id,
            UsageReportRow.price_id == item.price_id,
            UsageReportRow.period_start == period.start,
        )
    )
    assert found is not None
    return found


async def take_lease(
    session: AsyncSession, report_id: int, *, now: datetime, until: datetime
) -> bool:
    """Hold the report while its pass is sent; False when another reporter holds it."""
    result = await session.execute(
        update(UsageReportRow)
        .where(
            UsageReportRow.id == report_id,
            or_(UsageReportRow.lease_until.is_(None), UsageReportRow.lease_until < now),
        )
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def release_lease(session: AsyncSession, report_id: int) -> None:
    await session.execute(
        update(UsageReportRow)
        .where(UsageReportRow.id == report_id)
        .values(lease_until=None)
        .execution_options(synchronize_session=False)
    )


async def latest_open_report(session: AsyncSession, item: Item) -> UsageReportRow | None:
    return await session.scalar(
        select(UsageReportRow)
        .where(
            UsageReportRow.subscription_id == item.subscription_id,
            UsageReportRow.price_id == item.price_id,
            UsageReportRow.status == UsageReportStatus.OPEN,
        )
        .order_by(UsageReportRow.period_start.desc())
        .limit(1)
    )


async def open_reports_before(
    session: AsyncSession, item: Item, period_start: datetime
) -> Sequence[UsageReportRow]:
    rows = await session.scalars(
        select(UsageReportRow).where(
            UsageReportRow.subscription_id == item.subscription_id,
            UsageReportRow.price_id == item.price_id,
            UsageReportRow.status == UsageReportStatus.OPEN,
            UsageReportRow.period_start < period_start,
        )
    )
    return rows.all()


async def void_pending(session: AsyncSession, report_id: int) -> int:
    """Void the passes billing never accepted and unstamp their events; how many events."""
    pending = select(UsageReportPassRow.id).where(
        UsageReportPassRow.report_id == report_id,
        UsageReportPassRow.status == UsagePassStatus.PENDING,
    )
    result = await session.execute(
        update(UsageEventRow)
        .where(UsageEventRow.report_pass_id.in_(pending.scalar_subquery()))
        .values(report_pass_id=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(UsageReportPassRow)
        .where(
            UsageReportPassRow.report_id == report_id,
            UsageReportPassRow.status == UsagePassStatus.PENDING,
        )
        .values(status=UsagePassStatus.VOID)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


async def has_unreported(
    session: AsyncSession, item: Item, *, until: datetime | None = None
) -> bool:
    """Whether events (of periods starting before `until`) wait for a pass."""
    where = [
        UsageEventRow.subscription_id == item.subscription_id,
        UsageEventRow.price_id == item.price_id,
        UsageEventRow.report_pass_id.is_(None),
    ]
    if until is not None:
        where.append(UsageEventRow.period_start < until)
    found = await session.scalar(select(UsageEventRow.id).where(*where).limit(1))
    return found is not None


async def stamp(session: AsyncSession, item: Item, pass_id: int, *, period: Period) -> int:
    """Stamp the item's uncounted events of `period` and of the periods before it."""
    result = await session.execute(
        update(UsageEventRow)
        .where(
            UsageEventRow.subscription_id == item.subscription_id,
            UsageEventRow.price_id == item.price_id,
            UsageEventRow.period_start <= period.start,
            UsageEventRow.report_pass_id.is_(None),
        )
        .values(report_pass_id=pass_id)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


async def carried_periods(
    session: AsyncSession, item: Item, pass_id: int, *, period: Period
) -> list[datetime]:
    """The earlier periods whose events `pass_id` stamped: carried into `period`."""
    rows = await session.scalars(
        select(UsageEventRow.period_start)
        .where(
            UsageEventRow.subscription_id == item.subscription_id,
            UsageEventRow.price_id == item.price_id,
            UsageEventRow.period_start < period.start,
            UsageEventRow.report_pass_id == pass_id,
        )
        .distinct()
        .order_by(UsageEventRow.period_start)
    )
    return list(rows)


async def carried_so_far(session: AsyncSession, report_id: int) -> int:
    """What the report's live passes carried in (void ones were never billed)."""
    total = await session.scalar(
        select(func.sum(UsageReportPassRow.carried_micros)).where(
            UsageReportPassRow.report_id == report_id,
            UsageReportPassRow.status != UsagePassStatus.VOID,
        )
    )
    return int(total or 0)


async def latest_pass(session: AsyncSession, report_id: int) -> UsageReportPassRow | None:
    return await session.scalar(
        select(UsageReportPassRow)
        .where(
            UsageReportPassRow.report_id == report_id,
            UsageReportPassRow.status != UsagePassStatus.VOID,
        )
        .order_by(UsageReportPassRow.id.desc())
        .limit(1)
    )


async def accept_through(session: AsyncSession, report_id: int, pass_id: int, at: datetime) -> None:
    """Billing holds the total of `pass_id`, which counts every earlier pass of the report."""
    await session.execute(
        update(UsageReportPassRow)
        .where(
            and_(
                UsageReportPassRow.report_id == report_id,
                UsageReportPassRow.id <= pass_id,
                UsageReportPassRow.status == UsagePassStatus.PENDING,
            )
        )
        .values(status=UsagePassStatus.ACCEPTED, accepted_at=at)
        .execution_options(synchronize_session=False)
    )
