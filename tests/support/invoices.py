"""Builders for invoice request bodies whose tax agrees with the ERP sandbox's rates."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from app.seed import demo_id
from sandboxes.demo_estate import DEMO_COMPANIES

ACME = demo_id("customer", 1)  # USD, legal entity LG-US (closed period: reject)
INITECH = demo_id("customer", 3)  # EUR, legal entity LG-DE (closed period: roll forward)
US_COMPANY = DEMO_COMPANIES[0].id
DE_COMPANY = DEMO_COMPANIES[1].id
RATES = {
    "USD": {"STANDARD": Decimal("8.875"), "EXEMPT": Decimal(0)},
    "EUR": {"STANDARD": Decimal(19), "REDUCED": Decimal(7)},
}


def tax(amount: int, currency: str, code: str) -> int:
    rate = RATES[currency].get(code, Decimal(0))
    return int((Decimal(amount) * rate / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def invoice_body(
    customer_id: str = ACME,
    *,
    currency: str = "USD",
    invoice_date: date | None = None,
    lines: tuple[tuple[str, int, int, str], ...] = (
        ("Ledgergate Pro, monthly", 3, 4900, "STANDARD"),
        ("Onboarding", 1, 25000, "STANDARD"),
    ),
) -> dict[str, Any]:
    invoice_date = invoice_date or date.today()
    body_lines = [
        {
            "description": description,
            "quantity": quantity,
            "unit_amount": unit,
            "amount": quantity * unit,
            "tax_code": code,
            "tax_amount": tax(quantity * unit, currency, code),
        }
        for description, quantity, unit, code in lines
    ]
    subtotal = sum(line["amount"] for line in body_lines)
    tax_total = sum(line["tax_amount"] for line in body_lines)
    return {
        "customer_id": customer_id,
        "currency": currency,
        "invoice_date": invoice_date.isoformat(),
        "due_date": (invoice_date + timedelta(days=30)).isoformat(),
        "lines": body_lines,
        "subtotal": subtotal,
        "tax_total": tax_total,
        "total": subtotal + tax_total,
    }


def last_month() -> date:
    return date.today().replace(day=1) - timedelta(days=10)
