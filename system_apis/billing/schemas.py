"""Canonical billing objects, vendor-neutral. Amounts are integer minor units."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class BillingModel(BaseModel):
    model_config = ConfigDict(frozen=True)


class BillingCustomerCreate(BillingModel):
    reference: str = Field(description="Our customer id, stored as vendor metadata.")
    name: str
    email: str | None = None
    currency: str


class BillingCustomer(BillingModel):
    id: str
    reference: str | None
    name: str | None
    email: str | None
    currency: str | None
    created_at: datetime


class BillingInvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


class BillingInvoice(BillingModel):
    id: str
    customer_id: str
    currency: str
    status: BillingInvoiceStatus
    subtotal: int
    tax: int
    total: int
    amount_paid: int
    reference: str | None


class BillingPage(BillingModel):
    """One page of a list, and the cursor to ask for the next."""

    invoices: tuple[BillingInvoice, ...]
    next_cursor: str | None
