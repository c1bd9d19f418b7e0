"""A subscription item's usage in one billing period, under its meter's aggregation.

`sum` and `max` of the quantities (micros), or `unique_count` of the distinct values
(a count, given in micros as `count × SCALE` so every total has one unit). One
statement on the aggregation index `(subscription_id, price_id, period_start, meter)`:
on PostgreSQL an index range scan over the period's rows, whatever the table's size.

`counted` narrows it to the events report passes counted: through a pass (the pass and
the ones before it), or before a pass. The difference of the two is what the pass added,
for any of the aggregations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.catalog import MeterAggregation
from core.models.usage_event import UsageEventRow
from core.quantity import SCALE


@dataclass(frozen=True)
class Item:
    """A subscription item: a subscription and one of its metered prices."""

    subscription_id: str
    price_id: str
    aggregation: MeterAggregation


def measure(aggregation: MeterAggregation) -> ColumnElement[Any]:
    if aggregation == MeterAggregation.UNIQUE_COUNT:
        return func.count(func.distinct(UsageEventRow.distinct_value)) * SCALE
    if aggregation == MeterAggregation.MAX:
        return func.max(UsageEventRow.quantity_micros)
    return func.sum(UsageEventRow.quantity_micros)


async def aggregate(
    session: AsyncSession,
    item: Item,
    period_start: datetime,
    *,
    through: int | None = None,
    before: int | None = None,
) -> int:
    """The period's usage in micros: every stored event, or only those counted by the
    passes up to `through` (included) or before `before`."""
    where = [
        UsageEventRow.subscription_id == item.subscription_id,
        UsageEventRow.price_id == item.price_id,
        UsageEventRow.period_start == period_start,
    ]
    if through is not None:
        where += [UsageEventRow.report_pass_id <= through]
    if before is not None:
        where += [UsageEventRow.report_pass_id < before]
    total = await session.scalar(select(measure(item.aggregation)).where(*where))
    return int(total or 0)
