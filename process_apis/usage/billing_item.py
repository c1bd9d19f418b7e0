"""The metered price and the subscription item usage is reported on, made in billing once.

The price is created in billing as a metered price (billed in arrears, its period's last
reported total) under a key derived from our id and the body; the item is added to the
billing subscription without proration, under a key derived from the subscription and
the price. Both are safe to repeat: the second time billing answers with the first.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.models.price import PriceRow
from process_apis.references import billing_key
from system_apis.billing.port import BillingPort
from system_apis.billing.schemas import (
    BillingInterval,
    BillingPriceCreate,
    BillingSubscription,
    BillingSubscriptionChange,
    BillingSubscriptionItemChange,
    ProrationBehavior,
)


@dataclass(frozen=True)
class MeteredItem:
    item_id: str
    price_ref: str
    subscription: BillingSubscription


def metered_price_body(price: PriceRow, product_ref: str) -> BillingPriceCreate:
    return BillingPriceCreate(
        reference=price.id,
        product_id=product_ref,
        currency=price.currency,
        unit_amount=price.unit_amount,
        interval=BillingInterval(price.interval),
        nickname=f"{price.meter} ({price.currency}, per unit, metered)",
        metered=True,
    )


async def metered_price(billing: BillingPort, price: PriceRow, product_ref: str) -> str:
    """The billing id of the metered price, creating it when it has none yet."""
    if price.billing_ref is not None:
        return price.billing_ref
    body = metered_price_body(price, product_ref)
    created = await billing.create_price(body, idempotency_key=billing_key("price", price.id, body))
    return created.id


async def metered_item(
    billing: BillingPort, *, subscription_ref: str, subscription_id: str, price_ref: str
) -> MeteredItem:
    """The billing subscription's item for the metered price, added when missing."""
    current = await billing.get_subscription(subscription_ref)
    found = next((item for item in current.items if item.price_id == price_ref), None)
    if found is not None:
        return MeteredItem(found.id, price_ref, current)
    change = BillingSubscriptionChange(
        items=(BillingSubscriptionItemChange(price_id=price_ref),),
        proration_behavior=ProrationBehavior.NONE,
    )
    key = billing_key("usage-item", f"{subscription_id}:{price_ref}", change)
    changed = await billing.change_subscription(subscription_ref, change, idempotency_key=key)
    added = next(item for item in changed.items if item.price_id == price_ref)
    return MeteredItem(added.id, price_ref, changed)
