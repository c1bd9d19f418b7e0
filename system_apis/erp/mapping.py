"""Canonical ERP objects ⇄ Business Central wire models. Pure functions, no I/O.

Amounts cross as integer minor units on our side and decimals in major units on
BC's; a BC amount finer than the currency's minor unit raises `ValueError`, which
the adapter reports as a contract breach. BC keeps text fields as empty strings,
never null, so an absent e-mail is `""` on the wire and `None` here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from app.core.money import from_decimal, to_decimal
from system_apis.erp.adapters.business_central_wire import (
    BcCompany,
    BcCustomer,
    BcCustomerCreate,
    BcCustomerUpdate,
    BcInvoiceStatus,
    BcSalesInvoice,
    BcSalesInvoiceCreate,
    BcSalesInvoiceLineCreate,
    BcSalesInvoiceUpdate,
)
from system_apis.erp.schemas import (
    ErpCompany,
    ErpCustomer,
    ErpCustomerUpsert,
    ErpDocumentStatus,
    ErpInvoiceLine,
    ErpSalesInvoice,
    ErpSalesInvoiceCreate,
)

BC_STATUS: dict[BcInvoiceStatus, ErpDocumentStatus] = {
    "Draft": ErpDocumentStatus.DRAFT,
    "In Review": ErpDocumentStatus.POSTED,
    "Open": ErpDocumentStatus.POSTED,
    "Paid": ErpDocumentStatus.PAID,
    "Canceled": ErpDocumentStatus.CANCELED,
    "Corrective": ErpDocumentStatus.CANCELED,
}


def odata_eq(field: str, value: str) -> str:
    """An OData `$filter` equality on a string property, quotes escaped by doubling."""
    escaped = value.replace("'", "''")
    return f"{field} eq '{escaped}'"


def bc_datetime(value: date) -> datetime:
    """A calendar date as the midnight-UTC date-time BC's v1.0 document declares."""
    return datetime.combine(value, time(), tzinfo=UTC)


def company_from_bc(company: BcCompany) -> ErpCompany:
    return ErpCompany(id=company.id, name=company.name, display_name=company.display_name)


def customer_from_bc(customer: BcCustomer) -> ErpCustomer:
    return ErpCustomer(
        id=customer.id,
        number=customer.number,
        display_name=customer.display_name,
        currency=customer.currency_code or None,
    )


def customer_to_bc(customer: ErpCustomerUpsert) -> BcCustomerCreate:
    return BcCustomerCreate(
        number=customer.number,
        display_name=customer.display_name,
        email=customer.email or "",
        currency_code=customer.currency,
    )


def customer_changes(current: BcCustomer, wanted: ErpCustomerUpsert) -> BcCustomerUpdate | None:
    """The PATCH that makes `current` match `wanted`, or `None` when they already match."""
    update = BcCustomerUpdate(
        display_name=wanted.display_name,
        email=wanted.email or "",
        currency_code=wanted.currency,
    )
    unchanged = (
        current.display_name == update.display_name
        and (current.email or "") == update.email
        and (current.currency_code or "") == update.currency_code
    )
    return None if unchanged else update


def sales_invoice_to_bc(invoice: ErpSalesInvoiceCreate) -> BcSalesInvoiceCreate:
    return BcSalesInvoiceCreate(
        external_document_number=invoice.external_document_number,
        customer_number=invoice.customer_number,
        currency_code=invoice.currency,
        invoice_date=bc_datetime(invoice.posting_date),
        due_date=bc_datetime(invoice.due_date),
    )


def sales_invoice_header_changes(
    current: BcSalesInvoice, wanted: ErpSalesInvoiceCreate
) -> BcSalesInvoiceUpdate | None:
    """The PATCH that moves a draft to the requested dates, or `None` when they match.

    A retry may carry a different posting date than the draft a crashed attempt left
    behind (a closed period rolled forward); the draft must follow the request.
    """
    if current.invoice_date == wanted.posting_date and current.due_date == wanted.due_date:
        return None
    return BcSalesInvoiceUpdate(
        invoice_date=bc_datetime(wanted.posting_date),
        due_date=bc_datetime(wanted.due_date),
    )


def sales_invoice_line_to_bc(line: ErpInvoiceLine, currency: str) -> BcSalesInvoiceLineCreate:
    return BcSalesInvoiceLineCreate(
        sequence=line.sequence,
        description=line.description,
        quantity=line.quantity,
        unit_price=to_decimal(line.unit_price, currency),
        tax_code=line.tax_code,
    )


def missing_lines(current: BcSalesInvoice, wanted: ErpSalesInvoiceCreate) -> list[ErpInvoiceLine]:
    """Requested lines the draft does not have yet, matched by sequence number."""
    present = {line.sequence for line in current.sales_invoice_lines or ()}
    return [line for line in wanted.lines if line.sequence not in present]


def sales_invoice_from_bc(invoice: BcSalesInvoice) -> ErpSalesInvoice:
    """The canonical document; `invoice` must have been read with its lines expanded."""
    if invoice.sales_invoice_lines is None:
        raise ValueError("salesInvoiceLines were not expanded")
    currency = invoice.currency_code
    return ErpSalesInvoice(
        id=invoice.id,
        number=invoice.number or None,
        external_document_number=invoice.external_document_number or None,
        customer_number=invoice.customer_number or None,
        currency=currency,
        posting_date=invoice.invoice_date,
        status=BC_STATUS[invoice.status],
        line_count=len(invoice.sales_invoice_lines),
        total_excluding_tax=from_decimal(invoice.total_amount_excluding_tax, currency),
        total_tax=from_decimal(invoice.total_tax_amount, currency),
        total_including_tax=from_decimal(invoice.total_amount_including_tax, currency),
    )
