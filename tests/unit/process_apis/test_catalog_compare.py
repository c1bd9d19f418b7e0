"""Catalog drift per product and price: which difference, which probable cause."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from process_apis.reconciliation.catalog_compare import (
    GatewayPrice,
    GatewayProduct,
    billing_price_drift,
    billing_product_drift,
    erp_drift,
    reference_price,
)
from process_apis.reconciliation.schemas import (
    CatalogCause,
    CatalogDifference,
    CatalogKind,
    CatalogObject,
)
from system_apis.billing.schemas import BillingInterval, BillingPrice, BillingProduct
from system_apis.erp.schemas import ErpItem

MONTHLY = GatewayPrice("price_m", "USD", 4900, "month", True, "price_bm")
YEARLY = GatewayPrice("price_y", "USD", 49000, "year", True, "price_by")
PRODUCT = GatewayProduct("prod_1", "Ledgergate Pro", True, "LG-PRO", "prod_b", (MONTHLY, YEARLY))
ITEM = ErpItem(
    id="i-1",
    number="LG-PRO",
    display_name="Ledgergate Pro",
    unit_price=4900,
    blocked=False,
    base_unit_of_measure="MONTH",
)
BILLED_PRODUCT = BillingProduct(
    id="prod_b",
    reference="prod_1",
    name="Ledgergate Pro",
    active=True,
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
)
BILLED_PRICE = BillingPrice(
    id="price_bm",
    reference="price_m",
    product_id="prod_b",
    currency="USD",
    unit_amount=4900,
    interval=BillingInterval.MONTH,
    interval_count=1,
    active=True,
)


def causes(found: list[CatalogDifference]) -> list[tuple[str, str]]:
    return [(d.kind, d.cause) for d in found]


def test_a_product_that_agrees_everywhere_has_no_drift() -> None:
    assert erp_drift(PRODUCT, ITEM, "USD") == []
    assert billing_product_drift(PRODUCT, BILLED_PRODUCT, "USD") == []
    assert billing_price_drift(MONTHLY, BILLED_PRICE) == []


def test_an_item_priced_per_year_is_compared_with_the_yearly_price() -> None:
    yearly_item = ITEM.model_copy(update={"unit_price": 49000, "base_unit_of_measure": "YEAR"})
    assert reference_price(PRODUCT, "USD", "YEAR") == YEARLY
    assert reference_price(PRODUCT, "USD", "PCS") == MONTHLY
    assert reference_price(PRODUCT, "EUR", "MONTH") is None
    assert erp_drift(PRODUCT, yearly_item, "USD") == []


def test_an_unmapped_or_missing_erp_item_of_an_active_product_is_missing_in_erp() -> None:
    unmapped = GatewayProduct("prod_2", "New", True, None, None, (MONTHLY,))
    assert causes(erp_drift(unmapped, None, "USD")) == [("missing_in_erp", "no_erp_item")]
    [missing] = erp_drift(PRODUCT, None, "USD")
    assert (missing.kind, missing.cause, missing.erp_item) == (
        CatalogKind.MISSING_IN_ERP,
        CatalogCause.ERP_ITEM_NOT_FOUND,
        "LG-PRO",
    )
    retired = GatewayProduct("prod_3", "Old", False, None, None, ())
    assert erp_drift(retired, None, "USD") == []


def test_the_erp_item_differing_in_price_name_or_status_is_each_reported() -> None:
    drifted = ITEM.model_copy(
        update={"unit_price": 5900, "display_name": "Pro (old)", "blocked": True}
    )
    found = erp_drift(PRODUCT, drifted, "USD")
    assert causes(found) == [
        ("name_mismatch", "name_differs"),
        ("status_mismatch", "blocked_in_erp"),
        ("unit_price_mismatch", "unit_price_differs"),
    ]
    name, status, price = found
    assert (name.gateway_value, name.erp_value) == ("Ledgergate Pro", "Pro (old)")
    assert (status.gateway_value, status.erp_value) == ("active", "blocked")
    assert (price.gateway_amount, price.erp_amount) == (4900, 5900)
    assert {d.object_type for d in found} == {CatalogObject.PRODUCT}


def test_an_inactive_product_whose_item_is_still_sellable_is_reported() -> None:
    retired = GatewayProduct("prod_1", "Ledgergate Pro", False, "LG-PRO", None, (MONTHLY,))
    assert causes(erp_drift(retired, ITEM, "USD")) == [("status_mismatch", "inactive_in_gateway")]
    assert erp_drift(retired, ITEM.model_copy(update={"blocked": True}), "USD") == []


def test_billing_products_missing_renamed_or_deactivated() -> None:
    assert causes(billing_product_drift(PRODUCT, None, "USD")) == [
        ("missing_in_billing", "billing_product_not_found")
    ]
    renamed = BILLED_PRODUCT.model_copy(update={"name": "Pro", "active": False})
    assert causes(billing_product_drift(PRODUCT, renamed, "USD")) == [
        ("name_mismatch", "name_differs"),
        ("status_mismatch", "inactive_in_billing"),
    ]
    never_synced = GatewayProduct("prod_2", "New", True, "LG-NEW", None, ())
    assert billing_product_drift(never_synced, None, "USD") == []


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        ({"unit_amount": 5900}, [("unit_price_mismatch", "unit_price_differs")]),
        ({"currency": "EUR"}, [("currency_mismatch", "currency_differs")]),
        ({"interval": BillingInterval.YEAR}, [("interval_mismatch", "interval_differs")]),
        ({"interval": None, "interval_count": None}, [("interval_mismatch", "interval_differs")]),
        ({"interval_count": 3}, [("interval_mismatch", "interval_differs")]),
        ({"active": False}, [("status_mismatch", "inactive_in_billing")]),
    ],
)
def test_each_billing_price_disagreement_has_its_cause(
    update: dict[str, object], expected: list[tuple[str, str]]
) -> None:
    assert causes(billing_price_drift(MONTHLY, BILLED_PRICE.model_copy(update=update))) == expected


def test_billing_prices_missing_or_still_active_after_ours_was_deactivated() -> None:
    [missing] = billing_price_drift(MONTHLY, None)
    assert (missing.cause, missing.billing_id, missing.object_type) == (
        CatalogCause.BILLING_PRICE_NOT_FOUND,
        "price_bm",
        CatalogObject.PRICE,
    )
    retired = GatewayPrice("price_m", "USD", 4900, "month", False, "price_bm")
    [still_active] = billing_price_drift(retired, BILLED_PRICE)
    assert (still_active.cause, still_active.billing_value) == (
        CatalogCause.INACTIVE_IN_GATEWAY,
        "active",
    )
    assert billing_price_drift(retired, None) == []
    unsynced = GatewayPrice("price_n", "USD", 4900, "month", True, None)
    assert billing_price_drift(unsynced, None) == []
