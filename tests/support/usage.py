"""A metered subscription of a demo customer, written straight to the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.seed import demo_id
from core.canonical.catalog import BillingInterval, MeterAggregation
from core.canonical.subscriptions import SubscriptionStatus
from core.ids import new_id
from core.models.price import PriceRow
from core.models.subscription import SubscriptionRow
from process_apis.usage.periods import add_months

CUSTOMER = demo_id("customer", 1)
FLAT_PRICE = demo_id("price", 11)


@dataclass(frozen=True)
class Metered:
    subscription_id: str
    price_id: str
    customer_id: str
    anchor: datetime  # the current period's start

    def event(self, event_id: str, **overrides: Any) -> dict[str, Any]:
        return {
            "id": event_id,
            "subscription_id": self.subscription_id,
            "meter": "api_calls",
            "quantity": 1,
            "timestamp": (self.anchor + timedelta(hours=1)).isoformat(),
            **overrides,
        }


async def metered_subscription(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    anchor: datetime | None = None,
    periods_before: int = 2,
    meter: str = "api_calls",
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE,
    **rules: Any,
) -> Metered:
    """A monthly subscription whose current period started at `anchor` (default: ten days
    ago), created `periods_before` periods earlier, with a metered price for `meter`."""
    anchor = anchor or (datetime.now(UTC) - timedelta(days=10)).replace(microsecond=0)
    async with sessionmaker.begin() as session:
        flat = await session.get(PriceRow, FLAT_PRICE)
        assert flat is not None
        metered = await _metered_price(session, flat, meter, rules)
        subscription = SubscriptionRow(
            id=new_id("subscription"),
            customer_id=CUSTOMER,
            price_id=FLAT_PRICE,
            quantity=1,
            status=status,
            current_period_start=anchor,
            current_period_end=add_months(anchor, 1),
            created_at=add_months(anchor, -periods_before),
        )
        session.add(subscription)
    return Metered(subscription.id, metered.id, CUSTOMER, anchor)


async def metered_price(
    sessionmaker: async_sessionmaker[AsyncSession], meter: str, **rules: Any
) -> str:
    """The id of the flat price's product's metered price for `meter`."""
    async with sessionmaker.begin() as session:
        flat = await session.get(PriceRow, FLAT_PRICE)
        assert flat is not None
        return (await _metered_price(session, flat, meter, rules)).id


async def _metered_price(
    session: AsyncSession, flat: PriceRow, meter: str, rules: dict[str, Any]
) -> PriceRow:
    """The product's metered price for `meter`, made once per test database."""
    found = await session.scalar(
        select(PriceRow).where(PriceRow.product_id == flat.product_id, PriceRow.meter == meter)
    )
    if found is not None:
        return found
    price = PriceRow(
        id=new_id("price"),
        product_id=flat.product_id,
        currency=flat.currency,
        unit_amount=2,
        interval=BillingInterval.MONTH,
        meter=meter,
        aggregation=rules.pop("aggregation", MeterAggregation.SUM),
        **rules,
    )
    session.add(price)
    await session.flush()
    return price
