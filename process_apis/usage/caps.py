"""Entitlement caps per meter and period: usage over the cap is flagged or refused.

The period's usage is the stored events' (under the meter's aggregation) plus the
batch's events before this one; the subscriptions are locked first, so two batches
cannot both pass a cap the other fills.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.catalog import CapPolicy, MeterAggregation
from core.quantity import SCALE, from_micros
from process_apis.usage import repository
from process_apis.usage.contract import Resolved

GroupKey = tuple[str, str, datetime]


@dataclass(frozen=True)
class CapVerdict:
    """An event over its cap: refused, or accepted and flagged; `usage` with the event."""

    refused: bool
    cap: str
    usage: str


@dataclass
class _Usage:
    aggregation: MeterAggregation
    total: int  # micros, or a count of distinct values
    known: set[str]

    def with_event(self, resolved: Resolved) -> tuple[int, set[str]]:
        if self.aggregation == MeterAggregation.SUM:
            return self.total + resolved.quantity_micros, self.known
        if self.aggregation == MeterAggregation.MAX:
            return max(self.total, resolved.quantity_micros), self.known
        value = resolved.distinct_value or ""
        return self.total + (value not in self.known), self.known | {value}

    def in_micros(self, total: int) -> int:
        return total * SCALE if self.aggregation == MeterAggregation.UNIQUE_COUNT else total


def _key(resolved: Resolved) -> GroupKey:
    return resolved.subscription.id, resolved.price.id, resolved.period.start


async def _stored(session: AsyncSession, capped: Sequence[Resolved]) -> dict[GroupKey, _Usage]:
    """One read per subscription item and period the batch touches under a cap."""
    values: dict[GroupKey, set[str]] = defaultdict(set)
    for resolved in capped:
        if resolved.distinct_value is not None:
            values[_key(resolved)].add(resolved.distinct_value)
    usage: dict[GroupKey, _Usage] = {}
    for resolved in capped:
        key = _key(resolved)
        if key not in usage:
            aggregation = MeterAggregation(resolved.price.aggregation or MeterAggregation.SUM)
            total, known = await repository.period_usage(
                session,
                subscription_id=key[0],
                price_id=key[1],
                period_start=key[2],
                aggregation=aggregation,
                values=values[key],
            )
            usage[key] = _Usage(aggregation, total, known)
    return usage


async def check_caps(
    session: AsyncSession, events: Sequence[Resolved | None]
) -> list[CapVerdict | None]:
    """Per event (None: not a valid event): its verdict if over its cap, in batch order."""
    capped = [r for r in events if r is not None and r.price.cap_micros is not None]
    if not capped:
        return [None] * len(events)
    await repository.lock_subscriptions(session, {r.subscription.id for r in capped})
    usage = await _stored(session, capped)
    verdicts: list[CapVerdict | None] = []
    for resolved in events:
        cap = None if resolved is None else resolved.price.cap_micros
        if resolved is None or cap is None:
            verdicts.append(None)
            continue
        group = usage[_key(resolved)]
        total, known = group.with_event(resolved)
        refused = resolved.price.cap_policy == CapPolicy.REFUSE
        over = group.in_micros(total) > cap
        if not (over and refused):
            group.total, group.known = total, known
        shown = str(total) if group.aggregation == MeterAggregation.UNIQUE_COUNT else None
        verdicts.append(
            CapVerdict(refused, from_micros(cap), shown or from_micros(total)) if over else None
        )
    return verdicts
