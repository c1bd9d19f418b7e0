"""`BillingPort`: what the process tier may ask of any billing engine.

It is the union of smaller Protocols, one per kind of object, so a caller (or a
test double) that needs only subscriptions can depend on `SubscriptionPort` alone.
Every write with financial effect carries our idempotency key downstream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Protocol

from system_apis.billing.schemas import (
    BillingCreditNote,
    BillingCreditNoteCreate,
    BillingCreditNotePage,
    BillingCustomer,
    BillingCustomerCreate,
    BillingCustomerUpdate,
    BillingInvoice,
    BillingPage,
    BillingPrice,
    BillingPriceCreate,
    BillingPricePage,
    BillingProduct,
    BillingProductCreate,
    BillingSubscription,
    BillingSubscriptionChange,
    BillingSubscriptionCreate,
    BillingUsageRecord,
    BillingUsageReport,
    ProrationPreview,
)


class CustomerPort(Protocol):
    async def create_customer(
        self, customer: BillingCustomerCreate, *, idempotency_key: str
    ) -> BillingCustomer: ...

    async def get_customer(self, customer_id: str) -> BillingCustomer: ...

    async def update_customer(
        self, customer_id: str, customer: BillingCustomerUpdate, *, idempotency_key: str
    ) -> BillingCustomer: ...


class InvoicePort(Protocol):
    async def get_invoice(self, invoice_id: str) -> BillingInvoice: ...

    async def list_invoices(
        self, *, customer_id: str | None = None, limit: int = 20, cursor: str | None = None
    ) -> BillingPage: ...

    async def pay_invoice(
        self, invoice_id: str, *, paid_out_of_band: bool = False, idempotency_key: str
    ) -> BillingInvoice:
        """Collect an open (or finalize and collect a draft) invoice; it becomes paid."""
        ...

    async def void_invoice(self, invoice_id: str, *, idempotency_key: str) -> BillingInvoice:
        """Void a finalized invoice nobody paid; billing refuses a paid or draft one."""
        ...


class CatalogPort(Protocol):
    async def create_product(
        self, product: BillingProductCreate, *, idempotency_key: str
    ) -> BillingProduct: ...

    async def create_price(
        self, price: BillingPriceCreate, *, idempotency_key: str
    ) -> BillingPrice: ...

    async def get_price(self, price_id: str) -> BillingPrice: ...

    async def list_prices(
        self, *, product_id: str | None = None, limit: int = 20, cursor: str | None = None
    ) -> BillingPricePage: ...


class SubscriptionPort(Protocol):
    async def create_subscription(
        self, subscription: BillingSubscriptionCreate, *, idempotency_key: str
    ) -> BillingSubscription:
        """Start a subscription now; its first period is invoiced at once."""
        ...

    async def get_subscription(self, subscription_id: str) -> BillingSubscription: ...

    async def preview_subscription_change(
        self, subscription_id: str, change: BillingSubscriptionChange
    ) -> ProrationPreview:
        """What `change` would prorate; apply it with the preview's `proration_date`."""
        ...

    async def change_subscription(
        self, subscription_id: str, change: BillingSubscriptionChange, *, idempotency_key: str
    ) -> BillingSubscription: ...

    async def cancel_subscription(
        self, subscription_id: str, *, prorate: bool = False, invoice_now: bool = False
    ) -> BillingSubscription:
        """End it now; `prorate` credits the unused time, `invoice_now` bills what is pending.

        Not keyed: a cancel is idempotent by nature (cancelling again is refused as
        not found, and the subscription can still be read).
        """
        ...


class UsagePort(Protocol):
    async def report_usage(
        self, subscription_item_id: str, report: BillingUsageReport, *, idempotency_key: str
    ) -> BillingUsageRecord:
        """Set a metered item's usage for its current period (a total, never an increment);
        billing refuses a timestamp before that period (it was invoiced)."""
        ...


class CreditNotePort(Protocol):
    async def create_credit_note(
        self, credit_note: BillingCreditNoteCreate, *, idempotency_key: str
    ) -> BillingCreditNote: ...

    async def preview_credit_note(self, credit_note: BillingCreditNoteCreate) -> BillingCreditNote:
        """The credit note `create_credit_note` would issue, without issuing it."""
        ...

    async def get_credit_note(self, credit_note_id: str) -> BillingCreditNote: ...

    async def list_credit_notes(
        self, *, invoice_id: str | None = None, limit: int = 20, cursor: str | None = None
    ) -> BillingCreditNotePage: ...


class DocumentStreamPort(Protocol):
    """A period's documents page by page, for reconciliation: newest first, bounded memory."""

    def stream_invoices(
        self, *, created_from: datetime, created_to: datetime
    ) -> AsyncIterator[BillingInvoice]:
        """Every invoice created within `created_from..created_to` (both included)."""
        ...

    def stream_credit_notes(
        self, *, created_from: datetime, created_to: datetime
    ) -> AsyncIterator[BillingCreditNote]:
        """Every credit note created within `created_from..created_to` (both included)."""
        ...


class CatalogStreamPort(Protocol):
    """Every product and price, page by page, for catalog drift: bounded memory."""

    def stream_products(self) -> AsyncIterator[BillingProduct]:
        """Every product, active or not."""
        ...

    def stream_prices(self) -> AsyncIterator[BillingPrice]:
        """Every price, active or not."""
        ...


class BillingPort(
    CustomerPort,
    InvoicePort,
    CatalogPort,
    SubscriptionPort,
    UsagePort,
    CreditNotePort,
    DocumentStreamPort,
    CatalogStreamPort,
    Protocol,
):
    """Vendor-neutral billing operations: the whole interface an adapter implements."""
