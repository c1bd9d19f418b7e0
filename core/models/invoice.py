"""Invoices and their lines."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.canonical.documents import InvoiceStatus
from core.models.base import BackendRefsMixin, Base, VersionedMixin


class InvoiceRow(VersionedMixin, BackendRefsMixin, Base):
    __tablename__ = "invoices"
    # Keyset pages of a customer's invoices, newest id first (the partner portal's filter).
    __table_args__ = (Index("ix_invoices_customer_keyset", "customer_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    legal_entity_id: Mapped[str] = mapped_column(ForeignKey("legal_entities.id"), index=True)
    subscription_id: Mapped[str | None] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    invoice_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    subtotal: Mapped[int] = mapped_column(BigInteger)
    tax_total: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[InvoiceStatus] = mapped_column(String(20), index=True)
    posting_date: Mapped[date | None] = mapped_column(Date)
    erp_document_number: Mapped[str | None] = mapped_column(String(40))
    posted_at: Mapped[datetime | None]

    lines: Mapped[list[InvoiceLineRow]] = relationship(
        lazy="raise", order_by="InvoiceLineRow.sequence", cascade="all, delete-orphan"
    )

    @property
    def posting(self) -> dict[str, object]:
        return {
            "posting_date": self.posting_date,
            "erp_document_id": self.erp_ref,
            "erp_document_number": self.erp_document_number,
            "posted_at": self.posted_at,
        }


class InvoiceLineRow(Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (UniqueConstraint("invoice_id", "sequence"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"))
    sequence: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_amount: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    tax_code: Mapped[str] = mapped_column(String(20))
    tax_amount: Mapped[int] = mapped_column(BigInteger)
    product_id: Mapped[str | None] = mapped_column(ForeignKey("products.id"))
    # The days the line bills for (both included): what revenue recognition spreads it over.
    service_period_start: Mapped[date | None] = mapped_column(Date)
    service_period_end: Mapped[date | None] = mapped_column(Date)
    # The deferred revenue account the ERP booked the line to when it was posted (a line
    # with a service period); none: the ERP's own revenue account, the journal's to move.
    deferred_account: Mapped[str | None] = mapped_column(String(20))
