"""What a correction credits of each invoice line, and the tax share of each credit."""

from __future__ import annotations

from datetime import date

import pytest

from core.canonical.documents import InvoiceStatus
from core.models.invoice import InvoiceLineRow, InvoiceRow
from process_apis.credit_memos.correction_lines import plan_lines, proportional
from process_apis.credit_memos.errors import (
    CorrectionExceedsLine,
    CreditExceedsInvoice,
    UnknownInvoiceLine,
)
from process_apis.credit_memos.schemas import CorrectionLine
from process_apis.credits import LineCredit


def invoice(*lines: tuple[int, int, int]) -> InvoiceRow:
    """An invoice of (quantity, unit amount, tax) lines, ids `l1`, `l2`, ..."""
    rows = [
        InvoiceLineRow(
            id=f"l{sequence}",
            sequence=sequence,
            description="Seat",
            quantity=quantity,
            unit_amount=unit,
            amount=quantity * unit,
            tax_code="STANDARD",
            tax_amount=tax,
        )
        for sequence, (quantity, unit, tax) in enumerate(lines, start=1)
    ]
    return InvoiceRow(
        id="inv_1",
        currency="USD",
        invoice_date=date(2026, 12, 1),
        due_date=date(2026, 12, 31),
        subtotal=sum(row.amount for row in rows),
        tax_total=sum(row.tax_amount for row in rows),
        total=sum(row.amount + row.tax_amount for row in rows),
        status=InvoiceStatus.POSTED,
        lines=rows,
    )


def ask(line_id: str, *, quantity: int | None = None, amount: int | None = None) -> CorrectionLine:
    """A requested line (the ids here are short, not the API's pattern)."""
    return CorrectionLine.model_construct(invoice_line_id=line_id, quantity=quantity, amount=amount)


def test_proportional_rounds_half_up() -> None:
    assert proportional(1305, 14700, 4900) == 435  # 435.0
    assert proportional(2219, 25000, 10000) == 888  # 887.6
    assert proportional(1, 2, 1) == 1  # 0.5
    assert proportional(7, 7, 7) == 7


def test_successive_thirds_credit_exactly_the_line_tax() -> None:
    """Three credits of one unit each: 33.33... rounds, the shares still add up to 100."""
    bill = invoice((3, 1000, 100))
    credited = LineCredit()
    shares = []
    for _ in range(3):
        [item] = plan_lines(bill, [ask("l1", quantity=1)], {"l1": credited})
        shares.append(item.tax_amount)
        credited = LineCredit(
            credited.quantity + 1,
            credited.amount + item.amount,
            credited.tax_amount + item.tax_amount,
        )
    assert shares == [33, 34, 33]
    assert sum(shares) == 100


def test_the_whole_invoice_credits_what_remains_of_each_line() -> None:
    bill = invoice((3, 1000, 90), (1, 500, 45))
    credited = {"l1": LineCredit(quantity=1, amount=1000, tax_amount=30)}
    items = plan_lines(bill, None, credited)
    assert [(i.line.id, i.quantity, i.amount, i.tax_amount) for i in items] == [
        ("l1", 2, 2000, 60),
        ("l2", 1, 500, 45),
    ]
    by_amount = {"l1": LineCredit(amount=1500, tax_amount=45)}
    first = plan_lines(bill, None, by_amount)[0]
    assert (first.quantity, first.amount, first.tax_amount) == (None, 1500, 45)


def test_a_line_is_never_credited_beyond_its_amount_or_quantity() -> None:
    bill = invoice((3, 1000, 90))
    with pytest.raises(CorrectionExceedsLine):
        plan_lines(
            bill,
            [ask("l1", amount=1001)],
            {"l1": LineCredit(amount=2000)},
        )
    with pytest.raises(CorrectionExceedsLine):
        plan_lines(
            bill,
            [ask("l1", quantity=3)],
            {"l1": LineCredit(quantity=1, amount=1000)},
        )
    with pytest.raises(UnknownInvoiceLine):
        plan_lines(bill, [ask("l9", quantity=1)], {})
    with pytest.raises(CreditExceedsInvoice):
        plan_lines(bill, None, {"l1": LineCredit(quantity=3, amount=3000, tax_amount=90)})
