"""Reconciliation: the gateway's posted documents against the ERP's, for one period and entity.

Documents are matched by the ERP's external document number (our id). Reported:
counts and control totals per currency on each side, documents missing on either
side, and amounts that differ.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.canonical.documents import InvoiceStatus
from app.core.errors import BadRequest
from app.core.models.invoice import InvoiceRow
from process_apis.deps import ProcessContext
from process_apis.legal_entities.repository import get_legal_entity
from system_apis.erp.schemas import ErpSalesInvoice

Period = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-11"])]


class InvalidPeriod(BadRequest):
    slug = "invalid-period"
    title = "The period is not a month in YYYY-MM form"


class DifferenceKind(StrEnum):
    MISSING_IN_ERP = "missing_in_erp"
    MISSING_IN_GATEWAY = "missing_in_gateway"
    AMOUNT_MISMATCH = "amount_mismatch"


class Difference(BaseModel):
    kind: DifferenceKind
    document_type: str = Field(examples=["invoice"])
    gateway_id: str | None
    erp_number: str | None
    currency: str
    gateway_amount: int | None = Field(description="Total including tax, minor units.")
    erp_amount: int | None


class CurrencyTotals(BaseModel):
    currency: str
    gateway_count: int
    gateway_total: int
    erp_count: int
    erp_total: int


class Reconciliation(BaseModel):
    legal_entity_id: str
    period_start: date
    period_end: date
    totals: list[CurrencyTotals]
    differences: list[Difference]
    clean: bool = Field(description="True when both sides agree document by document.")


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
    ours = list(
        await session.scalars(
            select(InvoiceRow).where(
                InvoiceRow.legal_entity_id == legal_entity_id,
                InvoiceRow.status.in_((InvoiceStatus.POSTED, InvoiceStatus.PAID)),
                InvoiceRow.posting_date >= start,
                InvoiceRow.posting_date <= end,
            )
        )
    )
    theirs = await context.erp.list_sales_invoices(entity.erp_company_id, start, end)
    return compare(legal_entity_id, start, end, ours, theirs)


def compare(
    legal_entity_id: str,
    start: date,
    end: date,
    ours: list[InvoiceRow],
    theirs: tuple[ErpSalesInvoice, ...],
) -> Reconciliation:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    by_reference = {doc.external_document_number: doc for doc in theirs}
    differences = []
    for invoice in ours:
        sums = totals[invoice.currency]
        sums[0] += 1
        sums[1] += invoice.total
        document = by_reference.pop(invoice.id, None)
        if document is None:
            differences.append(
                Difference(
                    kind=DifferenceKind.MISSING_IN_ERP,
                    document_type="invoice",
                    gateway_id=invoice.id,
                    erp_number=invoice.erp_document_number,
                    currency=invoice.currency,
                    gateway_amount=invoice.total,
                    erp_amount=None,
                )
            )
        elif document.total_including_tax != invoice.total:
            differences.append(
                Difference(
                    kind=DifferenceKind.AMOUNT_MISMATCH,
                    document_type="invoice",
                    gateway_id=invoice.id,
                    erp_number=document.number,
                    currency=invoice.currency,
                    gateway_amount=invoice.total,
                    erp_amount=document.total_including_tax,
                )
            )
    for document in theirs:
        sums = totals[document.currency]
        sums[2] += 1
        sums[3] += document.total_including_tax
    for document in by_reference.values():
        differences.append(
            Difference(
                kind=DifferenceKind.MISSING_IN_GATEWAY,
                document_type="invoice",
                gateway_id=document.external_document_number,
                erp_number=document.number,
                currency=document.currency,
                gateway_amount=None,
                erp_amount=document.total_including_tax,
            )
        )
    return Reconciliation(
        legal_entity_id=legal_entity_id,
        period_start=start,
        period_end=end,
        totals=[
            CurrencyTotals(
                currency=c, gateway_count=s[0], gateway_total=s[1], erp_count=s[2], erp_total=s[3]
            )
            for c, s in sorted(totals.items())
        ],
        differences=differences,
        clean=not differences,
    )
