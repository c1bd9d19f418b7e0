"""The net proration an amendment posted to the ERP, as the revenue schedules read it.

One row per amendment that posted an ERP adjustment (its id is the amendment's id): the
signed net before tax (a downgrade's credit negative), the days it serves and the ERP
document's posting date, and the deferred revenue account the document booked it to. It
adjusts the revenue schedule of the subscription's billed line serving the proration's
first day.

When billing collects the proration with a later invoice (the renewal), the gateway invoice
registered from it is linked here (`invoice_id`): that invoice's payment settles the
amendment's ERP document too (`erp_document_id`, `erp_total_including_tax`).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, utcnow


class AmendmentProrationRow(Base):
    __tablename__ = "amendment_prorations"

    id: Mapped[str] = mapped_column(ForeignKey("workflow_runs.id"), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    service_start: Mapped[date] = mapped_column(Date)
    service_end: Mapped[date] = mapped_column(Date)
    posting_date: Mapped[date] = mapped_column(Date)
    erp_document_number: Mapped[str] = mapped_column(String(40))
    # The deferred revenue account the ERP document's line was booked to; none: the item's
    # revenue account (an amendment applied before), which the recognition journal moves.
    deferred_account: Mapped[str | None] = mapped_column(String(20))
    erp_document_id: Mapped[str | None] = mapped_column(String(40))
    # What the ERP document owes (a sales invoice) or credits (a credit memo), tax included.
    erp_total_including_tax: Mapped[int | None] = mapped_column(BigInteger)
    # The gateway invoice whose billing invoice collected the proration, once registered.
    invoice_id: Mapped[str | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
