"""Credit memos against invoices: a support credit, its approval and its backend documents."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.canonical.documents import CreditMemoStatus
from core.models.base import BackendRefsMixin, Base, VersionedMixin


class CreditMemoRow(VersionedMixin, BackendRefsMixin, Base):
    __tablename__ = "credit_memos"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    legal_entity_id: Mapped[str] = mapped_column(ForeignKey("legal_entities.id"))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    reason_code: Mapped[str] = mapped_column(String(40))
    status: Mapped[CreditMemoStatus] = mapped_column(String(20))
    # The support case it comes from (the desk's id) and the desk's service credit for it.
    case_id: Mapped[str | None] = mapped_column(String(40))
    support_ref: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(String(500))
    entitlement_product_id: Mapped[str | None] = mapped_column(String(40))
    entitlement_tier: Mapped[str | None] = mapped_column(String(20))
    approval_required: Mapped[bool | None]
    requested_by: Mapped[str | None] = mapped_column(String(80))
    approved_by: Mapped[str | None] = mapped_column(String(80))
    approved_at: Mapped[datetime | None]
    posting_date: Mapped[date | None] = mapped_column(Date)
    erp_document_number: Mapped[str | None] = mapped_column(String(40))
    erp_total_including_tax: Mapped[int | None] = mapped_column(BigInteger)
