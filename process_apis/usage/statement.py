"""`GET /v1/subscriptions/{id}/usage`: per subscription item and period, what was ingested,
what the period's report counted and carried in, what billing holds and what it invoiced."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.catalog import MeterAggregation
from core.errors import NotFound
from core.models.price import PriceRow
from core.models.subscription import SubscriptionRow
from core.models.usage_event import UsageEventRow
from core.models.usage_report import (
    UsagePassStatus,
    UsageReportPassRow,
    UsageReportRow,
    UsageReportStatus,
)
from core.quantity import SCALE, from_micros
from process_apis.usage.aggregation import Item, aggregate
from process_apis.usage.schemas import (
    CarriedIn,
    SubscriptionUsage,
    UsageItemPeriod,
    UsagePeriodStatus,
)

PeriodKey = tuple[str, datetime]


async def subscription_usage(session: AsyncSession, subscription_id: str) -> SubscriptionUsage:
    if await session.get(SubscriptionRow, subscription_id) is None:
        raise NotFound(f"no subscription {subscription_id}")
    ingested = await session.execute(
        select(
            UsageEventRow.price_id,
            UsageEventRow.period_start,
            UsageEventRow.period_end,
            func.count(),
        )
        .where(UsageEventRow.subscription_id == subscription_id)
        .group_by(UsageEventRow.price_id, UsageEventRow.period_start, UsageEventRow.period_end)
    )
    periods: dict[PeriodKey, tuple[datetime, int]] = {
        (row[0], row[1]): (row[2], int(row[3])) for row in ingested
    }
    reports = {
        (report.price_id, report.period_start): report
        for report in await session.scalars(
            select(UsageReportRow).where(UsageReportRow.subscription_id == subscription_id)
        )
    }
    for key, report in reports.items():
        periods.setdefault(key, (report.period_end, 0))
    prices = {
        price.id: price
        for price in await session.scalars(
            select(PriceRow).where(PriceRow.id.in_({price_id for price_id, _ in periods}))
        )
    }
    result = []
    for (price_id, start), (end, events) in sorted(
        periods.items(), key=lambda p: (p[0][1], p[0][0])
    ):
        price = prices[price_id]
        item = Item(subscription_id, price_id, MeterAggregation(price.aggregation or "sum"))
        result.append(
            await _period(session, item, price, start, end, events, reports.get((price_id, start)))
        )
    return SubscriptionUsage(subscription_id=subscription_id, periods=result)


async def _period(
    session: AsyncSession,
    item: Item,
    price: PriceRow,
    start: datetime,
    end: datetime,
    events: int,
    report: UsageReportRow | None,
) -> UsageItemPeriod:
    counted, carried, carried_total = 0, [], 0
    if report is not None:
        own = select(UsageReportPassRow.id).where(UsageReportPassRow.report_id == report.id)
        last = await session.scalar(
            select(func.max(UsageReportPassRow.id)).where(
                UsageReportPassRow.report_id == report.id,
                UsageReportPassRow.status != UsagePassStatus.VOID,
            )
        )
        counted = 0 if last is None else await aggregate(session, item, start, through=last)
        rows = await session.execute(
            select(UsageEventRow.period_start, func.count())
            .where(
                UsageEventRow.report_pass_id.in_(own.scalar_subquery()),
                UsageEventRow.period_start != start,
            )
            .group_by(UsageEventRow.period_start)
            .order_by(UsageEventRow.period_start)
        )
        carried = [CarriedIn(period_start=row[0], events=int(row[1])) for row in rows]
        carried_total = int(
            await session.scalar(
                select(func.coalesce(func.sum(UsageReportPassRow.carried_micros), 0)).where(
                    UsageReportPassRow.report_id == report.id,
                    UsageReportPassRow.status != UsagePassStatus.VOID,
                )
            )
            or 0
        )
    status = UsagePeriodStatus.UNREPORTED
    if report is not None and report.status == UsageReportStatus.CLOSED:
        status = UsagePeriodStatus.CLOSED
    elif report is not None and report.reported_at is not None:
        status = UsagePeriodStatus.OPEN
    reported = 0 if report is None else report.reported_micros
    return UsageItemPeriod(
        price_id=item.price_id,
        meter=price.meter or "",
        aggregation=item.aggregation.value,
        period_start=start,
        period_end=end,
        status=status,
        events=events,
        ingested=from_micros(await aggregate(session, item, start)),
        counted=from_micros(counted),
        carried_in=carried,
        carried_in_total=from_micros(carried_total),
        reported=from_micros(reported),
        reported_quantity=reported // SCALE,
        invoice_id=None if report is None else report.invoice_ref,
        invoiced_quantity=None if report is None else report.invoiced_quantity,
    )
