"""A legal entity's catalog against its ERP items and billing's products and prices.

Pure: each function decides from one product (or price) and what a backend holds of
it. A product is compared with the ERP item it names (`erp_item`) and with its billing
product, each price with its billing price. A product or price the gateway never
synced to billing is not drift: billing gets it on the first order that uses it. The
ERP item's unit price is compared with the product's active price in the company's
currency for the unit the item is priced per (`YEAR` the yearly price, otherwise the
monthly one, or the yearly one when there is no monthly price).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from process_apis.reconciliation.schemas import (
    CATALOG_CAUSES,
    CATALOG_KINDS,
    CatalogCause,
    CatalogDifference,
    CatalogObject,
)
from system_apis.billing.schemas import BillingPrice, BillingProduct
from system_apis.erp.schemas import ErpItem

YEARLY_UNITS = frozenset({"YEAR", "YR", "ANNUAL"})


@dataclass(frozen=True)
class GatewayPrice:
    id: str
    currency: str
    unit_amount: int
    interval: str
    active: bool
    billing_ref: str | None


@dataclass(frozen=True)
class GatewayProduct:
    id: str
    name: str
    active: bool
    erp_item: str | None
    billing_ref: str | None
    prices: tuple[GatewayPrice, ...]


def _status(active: bool) -> str:
    return "active" if active else "inactive"


def _drift(
    cause: CatalogCause, object_type: CatalogObject, gateway_id: str, currency: str, **values: Any
) -> CatalogDifference:
    return CatalogDifference(
        object_type=object_type,
        kind=CATALOG_KINDS[cause],
        cause=cause,
        explanation=CATALOG_CAUSES[cause],
        gateway_id=gateway_id,
        currency=currency,
        erp_item=values.pop("erp_item", None),
        billing_id=values.pop("billing_id", None),
        **values,
    )


def reference_price(
    product: GatewayProduct, currency: str, unit: str | None
) -> GatewayPrice | None:
    """The active price in `currency` an ERP item priced per `unit` should carry."""
    active = {p.interval: p for p in product.prices if p.active and p.currency == currency}
    if unit is not None and unit.upper() in YEARLY_UNITS:
        return active.get("year")
    return active.get("month") or active.get("year")


def erp_drift(
    product: GatewayProduct, item: ErpItem | None, currency: str
) -> list[CatalogDifference]:
    """How the product and its ERP item (`None`: not found) disagree."""
    drift = _product_drift(product, currency, erp_item=product.erp_item)
    if product.erp_item is None or item is None:
        if not product.active:
            return []
        cause = (
            CatalogCause.NO_ERP_ITEM
            if product.erp_item is None
            else CatalogCause.ERP_ITEM_NOT_FOUND
        )
        return [drift(cause)]
    found = []
    if item.display_name != product.name:
        found.append(
            drift(CatalogCause.NAME, gateway_value=product.name, erp_value=item.display_name)
        )
    if product.active == item.blocked:
        cause = CatalogCause.BLOCKED_IN_ERP if item.blocked else CatalogCause.INACTIVE_IN_GATEWAY
        erp_status = "blocked" if item.blocked else "active"
        found.append(drift(cause, gateway_value=_status(product.active), erp_value=erp_status))
    price = (
        reference_price(product, currency, item.base_unit_of_measure) if product.active else None
    )
    if price is not None and price.unit_amount != item.unit_price:
        found.append(
            drift(
                CatalogCause.UNIT_PRICE,
                gateway_amount=price.unit_amount,
                erp_amount=item.unit_price,
            )
        )
    return found


def billing_product_drift(
    product: GatewayProduct, billed: BillingProduct | None, currency: str
) -> list[CatalogDifference]:
    """How a product synced to billing and billing's product (`None`: not found) disagree."""
    if product.billing_ref is None:
        return []
    drift = _product_drift(product, currency, billing_id=product.billing_ref)
    if billed is None:
        return [drift(CatalogCause.BILLING_PRODUCT_NOT_FOUND)] if product.active else []
    found = []
    if billed.name != product.name:
        found.append(
            drift(CatalogCause.NAME, gateway_value=product.name, billing_value=billed.name)
        )
    if cause := _activity(product.active, billed.active):
        found.append(
            drift(
                cause, gateway_value=_status(product.active), billing_value=_status(billed.active)
            )
        )
    return found


def billing_price_drift(
    price: GatewayPrice, billed: BillingPrice | None
) -> list[CatalogDifference]:
    """How a price synced to billing and billing's price (`None`: not found) disagree."""
    if price.billing_ref is None:
        return []

    def drift(cause: CatalogCause, **values: Any) -> CatalogDifference:
        return _drift(
            cause,
            CatalogObject.PRICE,
            price.id,
            price.currency,
            billing_id=price.billing_ref,
            **values,
        )

    if billed is None:
        return [drift(CatalogCause.BILLING_PRICE_NOT_FOUND)] if price.active else []
    found = []
    if billed.currency != price.currency:
        found.append(
            drift(
                CatalogCause.CURRENCY, gateway_value=price.currency, billing_value=billed.currency
            )
        )
    elif billed.unit_amount != price.unit_amount:
        found.append(
            drift(
                CatalogCause.UNIT_PRICE,
                gateway_amount=price.unit_amount,
                billing_amount=billed.unit_amount,
            )
        )
    interval = "one_time" if billed.interval is None else billed.interval.value
    if billed.interval_count not in (None, 1):
        interval = f"{billed.interval_count} {interval}s"
    if interval != price.interval:
        found.append(
            drift(CatalogCause.INTERVAL, gateway_value=price.interval, billing_value=interval)
        )
    if cause := _activity(price.active, billed.active):
        found.append(
            drift(cause, gateway_value=_status(price.active), billing_value=_status(billed.active))
        )
    return found


def _activity(ours: bool, theirs: bool) -> CatalogCause | None:
    if ours == theirs:
        return None
    return CatalogCause.INACTIVE_IN_BILLING if ours else CatalogCause.INACTIVE_IN_GATEWAY


def _product_drift(
    product: GatewayProduct, currency: str, **refs: str | None
) -> Callable[..., CatalogDifference]:
    """A maker of the product's differences, its references given."""

    def drift(cause: CatalogCause, **values: Any) -> CatalogDifference:
        return _drift(cause, CatalogObject.PRODUCT, product.id, currency, **refs, **values)

    return drift
