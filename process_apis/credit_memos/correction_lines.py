"""What a correction credits of each invoice line: units, net amount and the line's tax share.

Pure: given the invoice, the lines asked for (none: all that remains of every line) and
what earlier corrections credited of each line, it refuses what would credit a line
more than it holds and computes each credited line's tax in proportion to its net,
rounded half up on the cumulative credit, so that the shares of successive
corrections add up to exactly the line's tax once the line is fully credited.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.canonical.base import fit
from core.models.credit_memo import CreditMemoRow
from core.models.invoice import InvoiceLineRow, InvoiceRow
from core.models.legal_entity import LegalEntityRow
from process_apis.credit_memos.errors import (
    CorrectionExceedsLine,
    CreditExceedsInvoice,
    UnknownInvoiceLine,
)
from process_apis.credit_memos.schemas import CorrectionLine
from process_apis.credits import LineCredit
from system_apis.erp.schemas import ErpInvoiceLine


@dataclass(frozen=True)
class LineCorrection:
    line: InvoiceLineRow
    quantity: int | None
    amount: int
    tax_amount: int


def proportional(total: int, whole: int, part: int) -> int:
    """`total × part / whole`, rounded half up (all non-negative, `whole` positive)."""
    return (2 * total * part + whole) // (2 * whole)


def credit_line(
    line: InvoiceLineRow, credited: LineCredit, quantity: int | None, amount: int
) -> LineCorrection:
    """One line's credit, with its tax share; refused when more than remains of the line."""
    if credited.amount + amount > line.amount:
        raise CorrectionExceedsLine(
            f"line {line.id} holds {line.amount}, {credited.amount} of it credited already: "
            f"{amount} more is too much",
            invoice_line_id=line.id,
            line_amount=line.amount,
            credited_amount=credited.amount,
        )
    if quantity is not None and credited.quantity + quantity > line.quantity:
        raise CorrectionExceedsLine(
            f"line {line.id} bills {line.quantity} units, {credited.quantity} of them credited "
            f"already: {quantity} more is too many",
            invoice_line_id=line.id,
            line_quantity=line.quantity,
            credited_quantity=credited.quantity,
        )
    tax = proportional(line.tax_amount, line.amount, credited.amount + amount) - credited.tax_amount
    return LineCorrection(line, quantity, amount, max(tax, 0))


def plan_lines(
    invoice: InvoiceRow,
    requested: list[CorrectionLine] | None,
    credited: dict[str, LineCredit],
) -> list[LineCorrection]:
    """The credited lines in the invoice's order: those asked for, or all that remains."""
    lines = {line.id: line for line in invoice.lines}
    if requested is None:
        return _remaining(invoice, credited)
    corrections: dict[str, LineCorrection] = {}
    for index, asked in enumerate(requested):
        line = lines.get(asked.invoice_line_id)
        if line is None:
            raise UnknownInvoiceLine(
                f"invoice {invoice.id} has no line {asked.invoice_line_id}",
                pointer=f"#/lines/{index}/invoice_line_id",
            )
        amount = (
            asked.amount if asked.amount is not None else line.unit_amount * (asked.quantity or 0)
        )
        if amount == 0:
            raise CorrectionExceedsLine(
                f"line {line.id} bills nothing: there is nothing of it to credit",
                invoice_line_id=line.id,
                pointer=f"#/lines/{index}",
            )
        corrections[line.id] = credit_line(
            line, credited.get(line.id, LineCredit()), asked.quantity, amount
        )
    return [corrections[line.id] for line in invoice.lines if line.id in corrections]


def _remaining(invoice: InvoiceRow, credited: dict[str, LineCredit]) -> list[LineCorrection]:
    corrections = []
    for line in invoice.lines:
        before = credited.get(line.id, LineCredit())
        remaining = line.amount - before.amount
        if remaining <= 0:
            continue
        units = line.quantity - before.quantity
        by_units = units > 0 and units * line.unit_amount == remaining
        corrections.append(credit_line(line, before, units if by_units else None, remaining))
    if not corrections:
        raise CreditExceedsInvoice(f"invoice {invoice.id} is credited in full already")
    return corrections


def stored(invoice: InvoiceRow, memo: CreditMemoRow) -> list[LineCorrection]:
    """A correction's lines as it recorded them."""
    lines = {line.id: line for line in invoice.lines}
    return [
        LineCorrection(lines[item.invoice_line_id], item.quantity, item.amount, item.tax_amount)
        for item in memo.lines
    ]


def erp_lines(
    corrections: list[LineCorrection], legal_entity: LegalEntityRow
) -> tuple[ErpInvoiceLine, ...]:
    """The ERP credit memo's lines: each credited line taxed with the invoice line's tax
    group (the ERP computes the tax), units at the unit amount, an amount as one unit;
    booked to the account the invoice line was (its deferred revenue account, if any), so
    the credit comes out of deferred revenue as its schedule's adjustment does."""
    return tuple(
        ErpInvoiceLine(
            sequence=sequence,
            description=fit(ErpInvoiceLine, "description", f"Correction: {item.line.description}"),
            quantity=item.quantity if item.quantity is not None else 1,
            unit_price=item.line.unit_amount if item.quantity is not None else item.amount,
            tax_code=legal_entity.erp_tax_code(item.line.tax_code),
            account_number=item.line.deferred_account,
        )
        for sequence, item in enumerate(corrections, start=1)
    )
