"""The reconciliation report: control totals, and each difference with its probable cause."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

from core.errors import BadRequest

# A month of the years 1000 to 9999: year 0 is no accounting year.
PERIOD_PATTERN = r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$"
Period = Annotated[str, Field(pattern=PERIOD_PATTERN, examples=["2026-11"])]


class InvalidPeriod(BadRequest):
    slug = "invalid-period"
    title = "The period is not a month in YYYY-MM form"


class Side(StrEnum):
    BILLING = "billing"
    GATEWAY = "gateway"
    ERP = "erp"


class DocumentType(StrEnum):
    INVOICE = "invoice"
    CREDIT_MEMO = "credit_memo"
    PAYMENT = "payment"
    SETTLEMENT = "settlement"
    # The gateway's own ERP documents: an amendment's proration, a credit's reversal.
    ADJUSTMENT = "adjustment"
    # An accepted quote's sales order, against the ERP's order and its first invoices.
    SALES_ORDER = "sales_order"
    # Billing's refund as the ERP's customer refund (its memo is a `credit_memo`).
    REFUND = "refund"
    # A dispute lost in billing as the ERP's `DSP-...` journal entry.
    DISPUTE = "dispute"
    # A currency's deferred revenue at the month's end: the schedules' against the ERP's.
    DEFERRED_REVENUE = "deferred_revenue"


class DifferenceKind(StrEnum):
    MISSING_IN_ERP = "missing_in_erp"
    MISSING_IN_GATEWAY = "missing_in_gateway"
    MISSING_IN_BILLING = "missing_in_billing"
    AMOUNT_MISMATCH = "amount_mismatch"
    DUPLICATE_IN_ERP = "duplicate_in_erp"


class Cause(StrEnum):
    """Why a document probably disagrees; each has a sentence in `CAUSES`."""

    NOT_REGISTERED = "posted_in_erp_not_registered"
    NEVER_REGISTERED = "in_billing_never_registered"
    NOT_POSTED = "registered_not_posted"
    NOT_IN_BILLING = "registered_not_in_billing"
    POSTED_TWICE = "posted_twice_in_erp"
    CURRENCY = "currency_differs"
    TAX = "amount_differs_tax"
    NET = "amount_differs_net"
    NET_AND_TAX = "amount_differs_net_and_tax"
    AMOUNT = "amount_differs"
    ORDER_IN_ERP = "order_amount_differs_in_erp"
    ORDER_INVOICED = "order_invoiced_for_another_amount"
    REFUND_NOT_BOOKED = "refund_not_booked_in_erp"
    REFUND_AMOUNT = "refund_booked_for_another_amount"
    DISPUTE_NOT_JOURNALED = "dispute_loss_not_journaled"
    DISPUTE_AMOUNT = "dispute_journaled_for_another_amount"
    SCHEDULES_UNBALANCED = "revenue_schedules_unbalanced"
    DEFERRED_NOT_JOURNALED = "deferred_revenue_not_journaled"
    DEFERRED_BALANCE = "deferred_revenue_balance_differs"


CAUSES = {
    Cause.NOT_REGISTERED: "posted in ERP, not registered in the gateway",
    Cause.NEVER_REGISTERED: "in billing, never registered in the gateway",
    Cause.NOT_POSTED: "registered in the gateway, not posted in the ERP",
    Cause.NOT_IN_BILLING: "registered from billing, not found in billing",
    Cause.POSTED_TWICE: "posted more than once in the ERP",
    Cause.CURRENCY: "currency differs",
    Cause.TAX: "amount differs: tax",
    Cause.NET: "amount differs: net",
    Cause.NET_AND_TAX: "amount differs: net and tax",
    Cause.AMOUNT: "amount differs",
    Cause.ORDER_IN_ERP: "the ERP's sales order is for another net amount than the order",
    Cause.ORDER_INVOICED: "the order's subscriptions were first invoiced for another net amount",
    Cause.REFUND_NOT_BOOKED: "refunded in billing, no customer refund in the ERP",
    Cause.REFUND_AMOUNT: "the ERP's customer refund is for another amount than billing refunded",
    Cause.DISPUTE_NOT_JOURNALED: "lost in billing, no dispute journal in the ERP",
    Cause.DISPUTE_AMOUNT: "the ERP's dispute journal is for another amount than lost and fee",
    Cause.SCHEDULES_UNBALANCED: "revenue schedules whose billed is not recognized + deferred",
    Cause.DEFERRED_NOT_JOURNALED: "the recognition journals dated by the month's end leave "
    "another deferred revenue than the schedules: a month not recognized yet, its journal "
    "queued, or a reversal dated later",
    Cause.DEFERRED_BALANCE: "the ERP's deferred revenue balance is not what the invoices and "
    "corrections posted to it and the recognition journals left",
}


class CatalogObject(StrEnum):
    PRODUCT = "product"
    PRICE = "price"


class CatalogKind(StrEnum):
    MISSING_IN_ERP = "missing_in_erp"
    MISSING_IN_BILLING = "missing_in_billing"
    UNIT_PRICE_MISMATCH = "unit_price_mismatch"
    CURRENCY_MISMATCH = "currency_mismatch"
    INTERVAL_MISMATCH = "interval_mismatch"
    STATUS_MISMATCH = "status_mismatch"
    NAME_MISMATCH = "name_mismatch"


class CatalogCause(StrEnum):
    """Why a product or price probably drifted; each has a sentence in `CATALOG_CAUSES`."""

    NO_ERP_ITEM = "no_erp_item"
    ERP_ITEM_NOT_FOUND = "erp_item_not_found"
    BILLING_PRODUCT_NOT_FOUND = "billing_product_not_found"
    BILLING_PRICE_NOT_FOUND = "billing_price_not_found"
    UNIT_PRICE = "unit_price_differs"
    CURRENCY = "currency_differs"
    INTERVAL = "interval_differs"
    BLOCKED_IN_ERP = "blocked_in_erp"
    INACTIVE_IN_BILLING = "inactive_in_billing"
    INACTIVE_IN_GATEWAY = "inactive_in_gateway"
    NAME = "name_differs"


CATALOG_CAUSES = {
    CatalogCause.NO_ERP_ITEM: "active product mapped to no ERP item",
    CatalogCause.ERP_ITEM_NOT_FOUND: "the product's ERP item is not in the ERP",
    CatalogCause.BILLING_PRODUCT_NOT_FOUND: "the product's billing product is not in billing",
    CatalogCause.BILLING_PRICE_NOT_FOUND: "the price's billing price is not in billing",
    CatalogCause.UNIT_PRICE: "unit price differs",
    CatalogCause.CURRENCY: "currency differs",
    CatalogCause.INTERVAL: "recurring interval differs",
    CatalogCause.BLOCKED_IN_ERP: "active in the gateway, blocked in the ERP",
    CatalogCause.INACTIVE_IN_BILLING: "active in the gateway, inactive in billing",
    CatalogCause.INACTIVE_IN_GATEWAY: "inactive in the gateway, still active in the ERP or billing",
    CatalogCause.NAME: "name differs",
}
CATALOG_KINDS = {
    CatalogCause.NO_ERP_ITEM: CatalogKind.MISSING_IN_ERP,
    CatalogCause.ERP_ITEM_NOT_FOUND: CatalogKind.MISSING_IN_ERP,
    CatalogCause.BILLING_PRODUCT_NOT_FOUND: CatalogKind.MISSING_IN_BILLING,
    CatalogCause.BILLING_PRICE_NOT_FOUND: CatalogKind.MISSING_IN_BILLING,
    CatalogCause.UNIT_PRICE: CatalogKind.UNIT_PRICE_MISMATCH,
    CatalogCause.CURRENCY: CatalogKind.CURRENCY_MISMATCH,
    CatalogCause.INTERVAL: CatalogKind.INTERVAL_MISMATCH,
    CatalogCause.BLOCKED_IN_ERP: CatalogKind.STATUS_MISMATCH,
    CatalogCause.INACTIVE_IN_BILLING: CatalogKind.STATUS_MISMATCH,
    CatalogCause.INACTIVE_IN_GATEWAY: CatalogKind.STATUS_MISMATCH,
    CatalogCause.NAME: CatalogKind.NAME_MISMATCH,
}


class CatalogDifference(BaseModel):
    """A product or price on which the gateway, its ERP item and its billing price disagree."""

    object_type: CatalogObject = Field(description="`product` or `price`.")
    kind: CatalogKind
    cause: CatalogCause = Field(description="The probable cause, stable for automation.")
    explanation: str = Field(examples=["unit price differs"])
    gateway_id: str = Field(description="The product's or price's id.")
    erp_item: str | None = Field(description="The ERP item number the product is mapped to.")
    billing_id: str | None = Field(description="The billing product's or price's id.")
    currency: str = Field(description="The legal entity's currency, or the price's.")
    gateway_amount: int | None = Field(
        default=None, description="Unit price in minor units, where the difference is one."
    )
    erp_amount: int | None = None
    billing_amount: int | None = None
    gateway_value: str | None = Field(
        default=None,
        description="What differs as the gateway holds it: a name, `active`/`inactive`, an "
        "interval (`month`, `year`, `one_time`) or a currency.",
    )
    erp_value: str | None = None
    billing_value: str | None = None


class CatalogDrift(BaseModel):
    object_type: CatalogObject
    cause: CatalogCause
    count: int


class Difference(BaseModel):
    kind: str = Field(
        examples=["missing_in_erp"],
        description="`missing_in_erp`, `missing_in_gateway`, `missing_in_billing`, "
        "`amount_mismatch` or `duplicate_in_erp`; `cause` says why, probably.",
    )
    document_type: str = Field(
        examples=["invoice"],
        description="`invoice`, `credit_memo`, `payment`, `settlement`, `adjustment`, "
        "`usage` (a subscription item's usage in a billing period), `sales_order` or "
        "`deferred_revenue` (a currency's deferred revenue at the month's end, keyed by the "
        "drill-down to its schedules).",
    )
    cause: Cause = Field(description="The probable cause, stable for automation.")
    explanation: str = Field(examples=["amount differs: tax"])
    key: str = Field(description="What the sides know the document by: our id as a rule.")
    gateway_id: str | None
    billing_id: str | None = None
    erp_number: str | None
    currency: str
    gateway_amount: int | None = Field(
        description="Minor units: the total including tax of an invoice, a credit memo or an "
        "adjustment, a payment's amount, a settlement's commission total."
    )
    billing_amount: int | None = None
    erp_amount: int | None


class CurrencyTotals(BaseModel):
    document_type: str = Field(
        examples=["invoice"],
        description="`invoice`, `credit_memo`, `payment`, `settlement` or `adjustment`: each "
        "is totalled on its own; `deferred_revenue`: a currency's deferred revenue at the "
        "month's end, the schedules' against the ERP's balance. In `catalog_totals`, "
        "`product` and `price`: the legal entity's catalog and what the ERP and billing hold "
        "of it (prices also total their unit amounts).",
    )
    currency: str
    gateway_count: int
    gateway_total: int
    erp_count: int
    erp_total: int
    billing_count: int = 0
    billing_total: int = 0


class Reconciliation(BaseModel):
    id: str | None = Field(default=None, description="The run that produced this report.")
    legal_entity_id: str
    period: str | None = None
    period_start: date
    period_end: date
    started_at: datetime | None = None
    finished_at: datetime | None = None
    trigger: str | None = Field(default=None, examples=["api"], description="api, cli or schedule.")
    totals: list[CurrencyTotals] = Field(
        description="One line per document type and currency that any side holds."
    )
    difference_count: int = 0
    differences: list[Difference] = Field(
        description="The differences, in document key order (the first `limit` of them)."
    )
    clean: bool = Field(
        description="True when all sides agree document by document, and on the catalog."
    )
    catalog_difference_count: int = 0
    catalog_differences: list[CatalogDifference] = Field(
        default_factory=list,
        description="The legal entity's products and prices that drifted between the gateway, "
        "the ERP and billing (the first `limit` of them).",
    )
    catalog_totals: list[CurrencyTotals] = Field(
        default_factory=list,
        description="The catalog's counts on each side: products (and the ERP items and billing "
        "products found for them), prices (and the billing prices found).",
    )
    catalog_drift: list[CatalogDrift] = Field(
        default_factory=list, description="How many products and prices drifted, by cause."
    )


class ReconciliationRun(BaseModel):
    """A past run, without its differences."""

    id: str
    legal_entity_id: str
    period: str
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    clean: bool | None
    difference_count: int
    catalog_difference_count: int = 0
