"""`BillingPort`: what the process tier may ask of any billing engine."""

from __future__ import annotations

from typing import Protocol

from system_apis.billing.schemas import (
    BillingCustomer,
    BillingCustomerCreate,
    BillingInvoice,
    BillingPage,
)


class BillingPort(Protocol):
    """Vendor-neutral billing operations. Writes carry our idempotency key downstream."""

    async def create_customer(
        self, customer: BillingCustomerCreate, *, idempotency_key: str
    ) -> BillingCustomer: ...

    async def get_customer(self, customer_id: str) -> BillingCustomer: ...

    async def get_invoice(self, invoice_id: str) -> BillingInvoice: ...

    async def list_invoices(
        self, *, customer_id: str | None = None, limit: int = 20, cursor: str | None = None
    ) -> BillingPage: ...
