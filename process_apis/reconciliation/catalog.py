"""Catalog drift: a legal entity's products and prices against the ERP and billing.

A legal entity's catalog is every product with a price in its functional currency,
and those prices. It is reference data, so it is read whole; the ERP's items and
billing's products and prices are streamed, keeping only those the catalog names, so
memory follows the gateway's catalog, not the vendors'. A backend nobody maps to is
not asked at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.price import PriceRow
from core.models.product import ProductRow
from process_apis.reconciliation.catalog_compare import (
    GatewayPrice,
    GatewayProduct,
    billing_price_drift,
    billing_product_drift,
    erp_drift,
)
from process_apis.reconciliation.schemas import CatalogDifference, CatalogObject, CurrencyTotals
from system_apis.billing.port import CatalogStreamPort
from system_apis.erp.port import ErpCatalog

T = TypeVar("T")


@dataclass
class CatalogReport:
    differences: list[CatalogDifference] = field(default_factory=list)
    totals: list[CurrencyTotals] = field(default_factory=list)


async def entity_catalog(session: AsyncSession, currency: str) -> list[GatewayProduct]:
    """Every product with a price in `currency`, with those prices, in id order."""
    rows = await session.execute(
        select(ProductRow, PriceRow)
        .join(PriceRow, PriceRow.product_id == ProductRow.id)
        .where(PriceRow.currency == currency)
        .order_by(ProductRow.id, PriceRow.id)
    )
    products: dict[str, tuple[ProductRow, list[GatewayPrice]]] = {}
    for product, price in rows.all():
        _, prices = products.setdefault(product.id, (product, []))
        prices.append(
            GatewayPrice(
                id=price.id,
                currency=price.currency,
                unit_amount=price.unit_amount,
                interval=price.interval,
                active=price.active,
                billing_ref=price.billing_ref,
            )
        )
    return [
        GatewayProduct(
            id=product.id,
            name=product.name,
            active=product.active,
            erp_item=product.erp_ref,
            billing_ref=product.billing_ref,
            prices=tuple(prices),
        )
        for product, prices in products.values()
    ]


async def _kept(
    found: AsyncIterator[T], key: Callable[[T], str], wanted: Collection[str]
) -> dict[str, T]:
    """What a stream holds under the keys the catalog names."""
    kept: dict[str, T] = {}
    if wanted:
        async for record in found:
            if key(record) in wanted:
                kept[key(record)] = record
    return kept


async def catalog_drift(
    erp: ErpCatalog,
    billing: CatalogStreamPort,
    catalog: list[GatewayProduct],
    *,
    company_id: str,
    currency: str,
) -> CatalogReport:
    """Each product and price that drifted, and the catalog's counts on every side."""
    prices = [price for product in catalog for price in product.prices]
    items = await _kept(
        erp.stream_items(company_id, currency=currency),
        lambda item: item.number,
        {p.erp_item for p in catalog if p.erp_item},
    )
    billed_products = await _kept(
        billing.stream_products(), lambda b: b.id, {p.billing_ref for p in catalog if p.billing_ref}
    )
    billed_prices = await _kept(
        billing.stream_prices(), lambda b: b.id, {p.billing_ref for p in prices if p.billing_ref}
    )
    report = CatalogReport()
    for product in catalog:
        item = items.get(product.erp_item) if product.erp_item else None
        report.differences += erp_drift(product, item, currency)
        billed = billed_products.get(product.billing_ref) if product.billing_ref else None
        report.differences += billing_product_drift(product, billed, currency)
        for price in product.prices:
            billed_price = billed_prices.get(price.billing_ref) if price.billing_ref else None
            report.differences += billing_price_drift(price, billed_price)
    if catalog:
        report.totals = [
            CurrencyTotals(
                document_type=CatalogObject.PRODUCT.value,
                currency=currency,
                gateway_count=len(catalog),
                gateway_total=0,
                erp_count=len(items),
                erp_total=0,
                billing_count=len(billed_products),
            ),
            CurrencyTotals(
                document_type=CatalogObject.PRICE.value,
                currency=currency,
                gateway_count=len(prices),
                gateway_total=sum(price.unit_amount for price in prices),
                erp_count=0,
                erp_total=0,
                billing_count=len(billed_prices),
                billing_total=sum(b.unit_amount or 0 for b in billed_prices.values()),
            ),
        ]
    return report
