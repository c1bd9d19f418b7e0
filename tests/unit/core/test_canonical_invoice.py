from typing import Any

import pytest
from pydantic import ValidationError

from core.canonical.documents import InvoiceCreate


def invoice(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer_id": "cus_x",
        "currency": "USD",
        "invoice_date": "2026-11-20",
        "due_date": "2026-12-20",
        "lines": [
            {
                "description": "Pro",
                "quantity": 2,
                "unit_amount": 4900,
                "amount": 9800,
                "tax_code": "STANDARD",
                "tax_amount": 870,
            },
        ],
        "subtotal": 9800,
        "tax_total": 870,
        "total": 10670,
    }
    body.update(overrides)
    return body


def test_a_consistent_invoice_validates() -> None:
    assert InvoiceCreate.model_validate(invoice()).total == 10670


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"subtotal": 9801, "total": 10671}, "subtotal"),
        ({"tax_total": 1, "total": 9801}, "tax_total"),
        ({"total": 1}, "total"),
        ({"due_date": "2026-11-01"}, "due_date"),
    ],
)
def test_totals_must_add_up(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        InvoiceCreate.model_validate(invoice(**overrides))


def test_line_amount_must_be_quantity_times_unit_amount() -> None:
    body = invoice()
    body["lines"][0]["amount"] = 9000
    with pytest.raises(ValidationError, match="quantity"):
        InvoiceCreate.model_validate(body)


@pytest.mark.parametrize("field", ["status", "id", "legal_entity_id", "posted_at"])
def test_server_owned_fields_cannot_be_sent(field: str) -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        InvoiceCreate.model_validate(invoice(**{field: "x"}))


def test_float_amounts_are_rejected() -> None:
    with pytest.raises(ValidationError):
        InvoiceCreate.model_validate(invoice(subtotal=9800.0))
