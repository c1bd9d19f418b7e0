"""Invoices registered in the unit estate, taxed as the fake ERP's US company taxes them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from core.auth import Principal
from core.canonical.documents import InvoiceCreate
from process_apis.deps import Caller
from process_apis.invoices.service import create_invoice
from system_apis.erp.schemas import ErpInvoiceLine
from tests.support.fakes.erp import line_tax
from tests.support.fakes.estate import ACME, US_TAX_BPS, Estate

PLATFORM = Caller(
    client_id="platform",
    principal=Principal(client_id="platform", scopes=frozenset()),
    correlation_id="corr-1",
)


def invoice_create(
    customer_id: str = ACME,
    *,
    currency: str = "USD",
    invoice_date: date,
    lines: tuple[tuple[int, int, str], ...] = ((3, 4900, "STANDARD"),),
    tax_bps: int = US_TAX_BPS,
    tax_off_by: int = 0,
    product_id: str | None = None,
    **values: Any,
) -> InvoiceCreate:
    """An invoice of (quantity, unit amount, tax code) lines, each of `product_id` if given;
    `tax_off_by` skews the first line's tax away from the ERP's."""
    body: list[dict[str, Any]] = []
    for number, (quantity, unit, code) in enumerate(lines, start=1):
        rate = tax_bps if code == "STANDARD" else 0
        erp_line = ErpInvoiceLine(
            sequence=number, description="x", quantity=quantity, unit_price=unit, tax_code=code
        )
        tax = line_tax(erp_line, rate) + (tax_off_by if number == 1 else 0)
        body.append(
            {
                "description": f"Line {number}",
                "quantity": quantity,
                "unit_amount": unit,
                "amount": quantity * unit,
                "tax_code": code,
                "tax_amount": tax,
                "product_id": product_id,
            }
        )
    subtotal = sum(int(line["amount"]) for line in body)
    tax_total = sum(int(line["tax_amount"]) for line in body)
    return InvoiceCreate.model_validate(
        {
            "customer_id": customer_id,
            "currency": currency,
            "invoice_date": invoice_date,
            "due_date": invoice_date + timedelta(days=30),
            "lines": body,
            "subtotal": subtotal,
            "tax_total": tax_total,
            "total": subtotal + tax_total,
            **values,
        }
    )


async def register(estate: Estate, data: InvoiceCreate, **columns: Any) -> str:
    """Register the invoice (as `POST /v1/invoices` does); `columns` set e.g. `billing_ref`."""
    async with estate.sessionmaker.begin() as session:
        invoice = await create_invoice(session, data=data)
        for name, value in columns.items():
            setattr(invoice, name, value)
        return invoice.id
