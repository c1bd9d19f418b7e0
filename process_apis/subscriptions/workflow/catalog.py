"""Products and prices synced into billing before a subscription uses them.

Each is created once in billing, carrying our id as metadata, under an idempotency
key derived from our id and the body; the billing id is recorded on our row as
soon as it is known, so later runs skip the step. This is catalog reference data,
not a change to any subscription or ledger, so an amendment preview may do it too.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core.models.price import PriceRow
from core.models.product import ProductRow
from process_apis.deps import ProcessContext
from process_apis.references import billing_key, save_refs
from process_apis.runs.engine import RunHandle
from system_apis.billing.schemas import BillingInterval, BillingPriceCreate, BillingProductCreate

STEPS = ("create_billing_product", "create_billing_price")


@dataclass(frozen=True)
class PriceSnapshot:
    """A price and its product as billing should hold them, taken in a transaction."""

    product_id: str
    product_name: str
    product_tier: str
    tax_code: str
    product_ref: str | None
    price_id: str
    price_ref: str | None
    currency: str
    unit_amount: int
    interval: str


async def price_snapshot(session: AsyncSession, price: PriceRow) -> PriceSnapshot:
    product = await session.get_one(ProductRow, price.product_id)
    return PriceSnapshot(
        product_id=product.id,
        product_name=product.name,
        product_tier=product.tier,
        tax_code=product.tax_code,
        product_ref=product.billing_ref,
        price_id=price.id,
        price_ref=price.billing_ref,
        currency=price.currency,
        unit_amount=price.unit_amount,
        interval=price.interval,
    )


def product_body(price: PriceSnapshot) -> BillingProductCreate:
    return BillingProductCreate(reference=price.product_id, name=price.product_name)


def price_body(price: PriceSnapshot, product_ref: str) -> BillingPriceCreate:
    return BillingPriceCreate(
        reference=price.price_id,
        product_id=product_ref,
        currency=price.currency,
        unit_amount=price.unit_amount,
        interval=BillingInterval(price.interval),
        nickname=f"{price.product_name} ({price.currency}, {price.interval}ly)",
    )


async def sync_billing_price(
    context: ProcessContext, handle: RunHandle, price: PriceSnapshot
) -> str:
    """The billing id of the price, creating its product and itself there when missing."""
    billing = context.billing
    product_ref = price.product_ref
    if product_ref is None:
        product = product_body(price)
        product_key = billing_key("product", price.product_id, product)
        created_product = await handle.step(
            "create_billing_product",
            lambda: billing.create_product(product, idempotency_key=product_key),
            request=product,
            downstream_key=product_key,
            backend_ref=lambda created: created.id,
        )
        product_ref = created_product.id
        await save_refs(context.sessionmaker, ProductRow, price.product_id, billing_ref=product_ref)
    if price.price_ref is not None:
        return price.price_ref
    body = price_body(price, product_ref)
    price_key = billing_key("price", price.price_id, body)
    created_price = await handle.step(
        "create_billing_price",
        lambda: billing.create_price(body, idempotency_key=price_key),
        request=body,
        downstream_key=price_key,
        backend_ref=lambda created: created.id,
    )
    await save_refs(context.sessionmaker, PriceRow, price.price_id, billing_ref=created_price.id)
    return created_price.id


async def billing_price_now(context: ProcessContext, price: PriceSnapshot) -> str:
    """`sync_billing_price` outside any run, for a preview: the same keys, so the same
    billing objects an order or amendment would create."""
    product_ref = price.product_ref
    if product_ref is None:
        product = product_body(price)
        created = await context.billing.create_product(
            product, idempotency_key=billing_key("product", price.product_id, product)
        )
        product_ref = created.id
        await save_refs(context.sessionmaker, ProductRow, price.product_id, billing_ref=product_ref)
    if price.price_ref is not None:
        return price.price_ref
    body = price_body(price, product_ref)
    created_price = await context.billing.create_price(
        body, idempotency_key=billing_key("price", price.price_id, body)
    )
    await save_refs(context.sessionmaker, PriceRow, price.price_id, billing_ref=created_price.id)
    return created_price.id
