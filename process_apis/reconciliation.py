"""Reconciliation: the gateway's posted documents against the ERP's, for one period and entity.

Three kinds of document are compared, each on its own:

- invoices with the ERP's posted sales invoices, matched by external document number
  (our invoice id), on the total including tax;
- credit memos with the ERP's posted sales credit memos, matched the same way (our
  credit memo id), on the total including tax the ERP acknowledged when it was issued;
- settlements with the ERP's general ledger: the entries on the partner commission
  payable account whose document number is a settlement journal's (`STL-...`), matched
  by that number, on what the entry credits the account (credits less debits).

A document counts in the period of its ERP posting date. Reported: counts and control
totals per document type and currency on each side, documents missing on either side,
and amounts that differ.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.canonical.documents import CreditMemoStatus, InvoiceStatus, SettlementStatus
from core.errors import BadRequest
from core.models.credit_memo import CreditMemoRow
from core.models.invoice import InvoiceRow
from core.models.settlement import SettlementRow
from process_apis.deps import ProcessContext
from process_apis.legal_entities.repository import get_legal_entity
from process_apis.settlements.workflow import JOURNAL_PREFIX
from system_apis.erp.schemas import ErpLedgerEntry, ErpSalesCreditMemo, ErpSalesInvoice

Period = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-11"])]


class InvalidPeriod(BadRequest):
    slug = "invalid-period"
    title = "The period is not a month in YYYY-MM form"


class DifferenceKind(StrEnum):
    MISSING_IN_ERP = "missing_in_erp"
    MISSING_IN_GATEWAY = "missing_in_gateway"
    AMOUNT_MISMATCH = "amount_mismatch"


class DocumentType(StrEnum):
    INVOICE = "invoice"
    CREDIT_MEMO = "credit_memo"
    SETTLEMENT = "settlement"


class Difference(BaseModel):
    kind: DifferenceKind
    document_type: str = Field(
        examples=["invoice"], description="`invoice`, `credit_memo` or `settlement`."
    )
    gateway_id: str | None
    erp_number: str | None
    currency: str
    gateway_amount: int | None = Field(
        description="Minor units: the total including tax of an invoice or a credit memo, "
        "the commission total of a settlement."
    )
    erp_amount: int | None


class CurrencyTotals(BaseModel):
    document_type: str = Field(
        examples=["invoice"],
        description="`invoice`, `credit_memo` or `settlement`: each is totalled on its own.",
    )
    currency: str
    gateway_count: int
    gateway_total: int
    erp_count: int
    erp_total: int


class Reconciliation(BaseModel):
    legal_entity_id: str
    period_start: date
    period_end: date
    totals: list[CurrencyTotals] = Field(
        description="One line per document type and currency that either side holds."
    )
    differences: list[Difference]
    clean: bool = Field(description="True when both sides agree document by document.")


@dataclass(frozen=True)
class Document:
    """One document as one side holds it; `key` is what both sides know it by."""

    key: str
    gateway_id: str | None
    erp_number: str | None
    currency: str
    amount: int


def month_bounds(period: str) -> tuple[date, date]:
    try:
        year, month = (int(part) for part in period.split("-"))
        start = date(year, month, 1)
    except ValueError as error:
        raise InvalidPeriod(f"{period!r} is not a YYYY-MM month") from error
    end = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return start, end


async def reconcile(
    context: ProcessContext, session: AsyncSession, *, legal_entity_id: str, period: str
) -> Reconciliation:
    start, end = month_bounds(period)
    entity = await get_legal_entity(session, legal_entity_id)
    company, erp = entity.erp_company_id, context.erp
    invoices = await session.scalars(
        select(InvoiceRow).where(
            InvoiceRow.legal_entity_id == legal_entity_id,
            InvoiceRow.status.in_((InvoiceStatus.POSTED, InvoiceStatus.PAID)),
            InvoiceRow.posting_date >= start,
            InvoiceRow.posting_date <= end,
        )
    )
    memos = await session.scalars(
        select(CreditMemoRow).where(
            CreditMemoRow.legal_entity_id == legal_entity_id,
            CreditMemoRow.status == CreditMemoStatus.POSTED,
            CreditMemoRow.posting_date >= start,
            CreditMemoRow.posting_date <= end,
        )
    )
    settlements = await session.scalars(
        select(SettlementRow).where(
            SettlementRow.legal_entity_id == legal_entity_id,
            SettlementRow.status.in_((SettlementStatus.POSTED, SettlementStatus.PAID)),
            SettlementRow.posting_date >= start,
            SettlementRow.posting_date <= end,
        )
    )
    erp_invoices = await erp.list_sales_invoices(company, start, end)
    erp_memos = await erp.list_sales_credit_memos(company, start, end)
    ledger = await erp.list_ledger_entries(
        company,
        start,
        end,
        account_number=context.settings.ledger.commission_payable_account,
        currency=entity.functional_currency,
    )
    compared = [
        compare(
            DocumentType.INVOICE,
            [Document(i.id, i.id, i.erp_document_number, i.currency, i.total) for i in invoices],
            [_sales_document(d) for d in erp_invoices],
        ),
        compare(
            DocumentType.CREDIT_MEMO,
            [
                Document(
                    m.id, m.id, m.erp_document_number, m.currency, m.erp_total_including_tax or 0
                )
                for m in memos
            ],
            [_sales_document(d) for d in erp_memos],
        ),
        compare(
            DocumentType.SETTLEMENT,
            [
                Document(
                    s.journal_document_number or "",
                    s.id,
                    s.journal_document_number,
                    s.currency,
                    s.total_commission,
                )
                for s in settlements
            ],
            settlement_entries(ledger, currency=entity.functional_currency),
        ),
    ]
    return Reconciliation(
        legal_entity_id=legal_entity_id,
        period_start=start,
        period_end=end,
        totals=[line for totals, _ in compared for line in totals],
        differences=[diff for _, differences in compared for diff in differences],
        clean=not any(differences for _, differences in compared),
    )


def _sales_document(document: ErpSalesInvoice | ErpSalesCreditMemo) -> Document:
    """An ERP sales document, known to both sides by its external number (our id)."""
    external = document.external_document_number
    return Document(
        external or "", external, document.number, document.currency, document.total_including_tax
    )


def settlement_entries(ledger: Iterable[ErpLedgerEntry], *, currency: str) -> list[Document]:
    """The settlement journal entries among the payable account's ledger entries."""
    credited: dict[str, int] = defaultdict(int)
    for entry in ledger:
        number = entry.document_number or ""
        if number.startswith(JOURNAL_PREFIX):
            credited[number] += entry.credit - entry.debit
    return [Document(n, None, n, currency, amount) for n, amount in sorted(credited.items())]


def compare(
    document_type: DocumentType, ours: list[Document], theirs: list[Document]
) -> tuple[list[CurrencyTotals], list[Difference]]:
    """Totals per currency on each side, and the documents that do not agree."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    by_key = {document.key: document for document in theirs}
    differences = []
    for document in ours:
        sums = totals[document.currency]
        sums[0] += 1
        sums[1] += document.amount
        erp = by_key.pop(document.key, None)
        if erp is None:
            differences.append(
                _difference(document_type, DifferenceKind.MISSING_IN_ERP, document, None)
            )
        elif (erp.amount, erp.currency) != (document.amount, document.currency):
            differences.append(
                _difference(document_type, DifferenceKind.AMOUNT_MISMATCH, document, erp)
            )
    for document in theirs:
        sums = totals[document.currency]
        sums[2] += 1
        sums[3] += document.amount
    differences.extend(
        _difference(document_type, DifferenceKind.MISSING_IN_GATEWAY, None, erp)
        for erp in by_key.values()
    )
    return [
        CurrencyTotals(
            document_type=document_type,
            currency=currency,
            gateway_count=sums[0],
            gateway_total=sums[1],
            erp_count=sums[2],
            erp_total=sums[3],
        )
        for currency, sums in sorted(totals.items())
    ], differences


def _difference(
    document_type: DocumentType,
    kind: DifferenceKind,
    gateway: Document | None,
    erp: Document | None,
) -> Difference:
    """A difference shown the gateway's way where the gateway holds the document."""
    shown = gateway or erp
    assert shown is not None, "a difference has at least one side"
    return Difference(
        kind=kind,
        document_type=document_type,
        gateway_id=shown.gateway_id,
        erp_number=(erp or shown).erp_number,
        currency=shown.currency,
        gateway_amount=gateway.amount if gateway else None,
        erp_amount=erp.amount if erp else None,
    )
