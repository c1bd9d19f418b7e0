"""Payments received against posted invoices, and their application in the ERP."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import BackendRefsMixin, Base, VersionedMixin


class PaymentStatus(StrEnum):
    RECORDED = "recorded"  # received; not yet applied in the ERP
    APPLIED = "applied"  # applied to the posted invoice in the ERP
    VOID = "void"  # given up before it reached the ERP
    REVERSED = "reversed"  # applied, then undone by a reversing entry in the ERP


class PaymentSource(StrEnum):
    DIRECT = "direct"  # recorded through the API
    BILLING = "billing"  # an `invoice.paid` event of the billing engine


class PaymentRow(VersionedMixin, BackendRefsMixin, Base):
    __tablename__ = "payments"
    # One payment per billing document paid: a redelivered event finds it. NULLs (direct
    # payments, keyed by the caller's Idempotency-Key instead) never collide.
    __table_args__ = (UniqueConstraint("source", "source_ref"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    legal_entity_id: Mapped[str] = mapped_column(ForeignKey("legal_entities.id"))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    # What the customer's credit balance paid of the invoice besides `amount` (billing
    # netted the customer's open credit memos into the payment): applied from those memos.
    balance_applied: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    paid_on: Mapped[date] = mapped_column(Date)
    source: Mapped[PaymentSource] = mapped_column(String(20))
    source_ref: Mapped[str | None] = mapped_column(String(255))
    reference: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[PaymentStatus] = mapped_column(String(20))
    posting_date: Mapped[date | None] = mapped_column(Date)
    erp_document_number: Mapped[str | None] = mapped_column(String(40))
    applied_at: Mapped[datetime | None]
    reversal_document_number: Mapped[str | None] = mapped_column(String(40))
    reversal_posting_date: Mapped[date | None] = mapped_column(Date)
    reversed_at: Mapped[datetime | None]
    # Billing's charge that paid it (Stripe's `ch_...`): what refunds and disputes name.
    charge_ref: Mapped[str | None] = mapped_column(String(255), index=True)
