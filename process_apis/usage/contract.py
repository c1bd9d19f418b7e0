"""Which subscription and metered price an event belongs to, and whether the contract
allows it: the subscription's term, the meter's quantity rules, and its billing period."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.catalog import BillingInterval, MeterAggregation
from core.canonical.subscriptions import SubscriptionStatus
from core.errors import LedgergateError
from core.models.price import PriceRow
from core.models.subscription import SubscriptionRow
from core.quantity import from_micros, is_whole, to_micros
from process_apis.usage.errors import (
    AmbiguousSubscription,
    InvalidUsageEvent,
    MissingUniqueProperty,
    NoMeteredSubscription,
    OutsideTerm,
    QuantityOutOfRange,
)
from process_apis.usage.periods import Period, period_of
from process_apis.usage.schemas import UsageEventIn

# How far ahead of the gateway's clock a timestamp may be (the caller's clock drifts).
CLOCK_SKEW = timedelta(minutes=5)
USABLE = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE, SubscriptionStatus.CANCELED)


class EventRefused(Exception):
    """An event the contract does not allow: the problem and the field it points at."""

    def __init__(self, error: LedgergateError, field: str) -> None:
        super().__init__(error.detail)
        self.error = error
        self.field = field


@dataclass(frozen=True)
class Resolved:
    """A valid event placed in its subscription item (metered price) and period."""

    subscription: SubscriptionRow
    price: PriceRow
    period: Period
    late: bool
    quantity_micros: int
    distinct_value: str | None


@dataclass
class Contracts:
    """The subscriptions a batch names, their flat prices and their products' metered prices."""

    subscriptions: dict[str, SubscriptionRow] = field(default_factory=dict)
    prices: dict[str, PriceRow] = field(default_factory=dict)
    metered: list[PriceRow] = field(default_factory=list)
    # Per batch, what many events share: each is worked out once.
    _metered: dict[tuple[str, str], PriceRow | None] = field(default_factory=dict)
    _periods: dict[str, list[Period]] = field(default_factory=dict)
    _terms: dict[str, Period] = field(default_factory=dict)

    def interval(self, subscription: SubscriptionRow) -> BillingInterval:
        return BillingInterval(self.prices[subscription.price_id].interval)

    def period(self, subscription: SubscriptionRow, at: datetime) -> Period:
        """The billing period of `subscription` holding `at`."""
        known = self._periods.setdefault(subscription.id, [])
        found = next((p for p in known if p.start <= at < p.end), None)
        if found is None:
            anchor = subscription.current_period_start
            assert anchor is not None
            found = period_of(at, anchor=anchor, interval=self.interval(subscription))
            known.append(found)
        return found

    def term(self, subscription: SubscriptionRow) -> Period:
        if subscription.id not in self._terms:
            self._terms[subscription.id] = _term(subscription, self.interval(subscription))
        return self._terms[subscription.id]

    def metered_price(self, subscription: SubscriptionRow, meter: str) -> PriceRow | None:
        key = (subscription.id, meter)
        if key not in self._metered:
            self._metered[key] = self._find_metered(subscription, meter)
        return self._metered[key]

    def _find_metered(self, subscription: SubscriptionRow, meter: str) -> PriceRow | None:
        flat = self.prices[subscription.price_id]
        return next(
            (
                price
                for price in self.metered
                if price.meter == meter
                and price.product_id == flat.product_id
                and price.currency == flat.currency
            ),
            None,
        )

    def candidates(self, event: UsageEventIn) -> list[SubscriptionRow]:
        """The usable subscriptions the event names, directly or by its customer."""
        if event.subscription_id is not None:
            found = self.subscriptions.get(event.subscription_id)
            return [found] if found is not None else []
        return [s for s in self.subscriptions.values() if s.customer_id == event.customer_id]


async def load_contracts(session: AsyncSession, events: Iterable[UsageEventIn]) -> Contracts:
    """Three reads for the whole batch: subscriptions, their prices, the metered prices."""
    events = list(events)
    subscription_ids = {e.subscription_id for e in events if e.subscription_id}
    customer_ids = {e.customer_id for e in events if e.customer_id}
    rows = await session.scalars(
        select(SubscriptionRow).where(
            or_(
                SubscriptionRow.id.in_(subscription_ids),
                SubscriptionRow.customer_id.in_(customer_ids),
            ),
            SubscriptionRow.status.in_(USABLE),
            SubscriptionRow.current_period_start.is_not(None),
        )
    )
    contracts = Contracts(subscriptions={row.id: row for row in rows})
    price_ids = {row.price_id for row in contracts.subscriptions.values()}
    flat = await session.scalars(select(PriceRow).where(PriceRow.id.in_(price_ids)))
    contracts.prices = {row.id: row for row in flat}
    products = {row.product_id for row in contracts.prices.values()}
    metered = await session.scalars(
        select(PriceRow)
        .where(
            PriceRow.product_id.in_(products),
            PriceRow.meter.in_({e.meter for e in events}),
            PriceRow.active.is_(True),
        )
        .order_by(PriceRow.created_at.desc(), PriceRow.id)
    )
    contracts.metered = list(metered)
    return contracts


def _term(subscription: SubscriptionRow, interval: BillingInterval) -> Period:
    """From the start of the period the subscription was created in; a canceled one ends
    with its last period."""
    anchor = subscription.current_period_start
    assert anchor is not None
    start = period_of(subscription.created_at, anchor=anchor, interval=interval).start
    ended = subscription.status == SubscriptionStatus.CANCELED
    end = subscription.current_period_end if ended else None
    return Period(start, end or datetime.max.replace(tzinfo=start.tzinfo))


def _subscription(contracts: Contracts, event: UsageEventIn) -> tuple[SubscriptionRow, PriceRow]:
    """The one subscription with a metered price for the event's meter, in whose term it is."""
    metered = [
        (s, price)
        for s in contracts.candidates(event)
        if (price := contracts.metered_price(s, event.meter)) is not None
    ]
    target = "subscription_id" if event.subscription_id else "customer_id"
    if not metered:
        raise EventRefused(
            NoMeteredSubscription(f"no usable subscription with a metered price for {event.meter}"),
            target,
        )
    in_term = [
        (s, p)
        for s, p in metered
        if contracts.term(s).start <= event.timestamp < contracts.term(s).end
    ]
    if not in_term:
        raise EventRefused(
            OutsideTerm(f"{event.timestamp.isoformat()} is outside the subscription's term"),
            "timestamp",
        )
    if len(in_term) > 1:
        raise EventRefused(
            AmbiguousSubscription(
                f"{len(in_term)} subscriptions meter {event.meter}",
                subscription_ids=sorted(s.id for s, _ in in_term),
            ),
            "customer_id",
        )
    return in_term[0]


def _check_rules(price: PriceRow, event: UsageEventIn, micros: int) -> str | None:
    """The meter's quantity rules; the distinct value a `unique_count` meter counts."""
    low, high = price.min_quantity_micros, price.max_quantity_micros
    if (low is not None and micros < low) or (high is not None and micros > high):
        bounds = f"{from_micros(low or 0)}..{'' if high is None else from_micros(high)}"
        raise EventRefused(
            QuantityOutOfRange(f"{event.meter} takes quantities in {bounds}"), "quantity"
        )
    if price.integer_only and not is_whole(micros):
        raise EventRefused(
            QuantityOutOfRange(f"{event.meter} takes whole quantities only"), "quantity"
        )
    if price.aggregation != MeterAggregation.UNIQUE_COUNT:
        return None
    assert price.unique_property is not None
    value = event.properties.get(price.unique_property)
    if value is None:
        raise EventRefused(
            MissingUniqueProperty(f"{event.meter} counts distinct `{price.unique_property}`"),
            f"properties/{price.unique_property}",
        )
    return str(value)


def resolve(
    contracts: Contracts, event: UsageEventIn, *, now: datetime, grace: timedelta
) -> Resolved:
    """The event placed in its subscription item and period, or `EventRefused`."""
    if event.timestamp > now + CLOCK_SKEW:
        raise EventRefused(InvalidUsageEvent("the timestamp is in the future"), "timestamp")
    subscription, price = _subscription(contracts, event)
    micros = to_micros(event.quantity)
    distinct = _check_rules(price, event, micros)
    period = contracts.period(subscription, event.timestamp)
    return Resolved(
        subscription=subscription,
        price=price,
        period=period,
        late=not period.open_at(now, grace),
        quantity_micros=micros,
        distinct_value=distinct,
    )
