"""Canonical ERP objects, vendor-neutral. Amounts are integer minor units."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class ErpModel(BaseModel):
    model_config = ConfigDict(frozen=True)


class ErpCompany(ErpModel):
    id: str
    name: str
    display_name: str


class ErpCustomerUpsert(ErpModel):
    number: str = Field(max_length=20)
    display_name: str = Field(max_length=100)
    email: str | None = Field(default=None, max_length=80)
    currency: str


class ErpCustomer(ErpModel):
    id: str
    number: str
    display_name: str
    currency: str | None


class ErpInvoiceLine(ErpModel):
    sequence: int = Field(ge=1)
    description: str = Field(max_length=100)
    quantity: int = Field(ge=1)
    unit_price: int = Field(description="Minor units.")
    tax_code: str = Field(max_length=20)


class ErpSalesInvoiceCreate(ErpModel):
    external_document_number: str = Field(
        max_length=35, description="Our invoice id: the ERP's guard against duplicates."
    )
    customer_number: str
    currency: str
    posting_date: date
    due_date: date
    lines: tuple[ErpInvoiceLine, ...]


class ErpDocumentStatus(StrEnum):
    DRAFT = "draft"
    POSTED = "posted"
    PAID = "paid"
    CANCELED = "canceled"


class ErpSalesInvoice(ErpModel):
    id: str
    number: str | None
    external_document_number: str | None
    customer_number: str | None
    currency: str
    posting_date: date | None
    status: ErpDocumentStatus
    line_count: int
    total_excluding_tax: int
    total_tax: int
    total_including_tax: int
