"""The documents that change what a billed line earns after its invoice was posted.

Each source is one query of its posted documents, with the columns `source_id`,
`invoice_id`, `invoice_line_id` (none: the invoice as a whole, shared by its lines'
amounts), `amount` (negative takes revenue back) and `effective_on`.
A document found here adjusts the schedules of its invoice once (`revenue_adjustments`
is unique per schedule and source). A new kind of document (a refund, a dispute lost)
adds its query to `SOURCES`; nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, exists, literal, select

from core.canonical.documents import CreditMemoStatus
from core.models.credit_memo import CreditMemoLineRow, CreditMemoRow

AdjustmentQuery = Select[str, str, str | None, int, date | None]


@dataclass(frozen=True)
class AdjustmentSource:
    source_type: str
    query: AdjustmentQuery


def _correction_lines() -> Any:
    """A posted correction takes back the net it credited of each invoice line."""
    return (
        select(
            CreditMemoRow.id.label("source_id"),
            CreditMemoRow.invoice_id.label("invoice_id"),
            CreditMemoLineRow.invoice_line_id.label("invoice_line_id"),
            (-CreditMemoLineRow.amount).label("amount"),
            CreditMemoRow.posting_date.label("effective_on"),
        )
        .join(CreditMemoLineRow, CreditMemoLineRow.credit_memo_id == CreditMemoRow.id)
        .where(CreditMemoRow.status == CreditMemoStatus.POSTED)
    )


def _whole_invoice_credits() -> Any:
    """A posted support credit (no lines) takes back its net from the invoice as a whole."""
    none = literal(None)
    return select(
        CreditMemoRow.id.label("source_id"),
        CreditMemoRow.invoice_id.label("invoice_id"),
        none.label("invoice_line_id"),
        (-CreditMemoRow.amount).label("amount"),
        CreditMemoRow.posting_date.label("effective_on"),
    ).where(
        CreditMemoRow.status == CreditMemoStatus.POSTED,
        ~exists().where(CreditMemoLineRow.credit_memo_id == CreditMemoRow.id),
    )


SOURCES: tuple[AdjustmentSource, ...] = (
    AdjustmentSource("credit_memo", _correction_lines()),
    AdjustmentSource("credit_memo", _whole_invoice_credits()),
)
