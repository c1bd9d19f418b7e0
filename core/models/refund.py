"""Refunds billing made of a paid invoice's charge, and the ERP documents that book them.

One row per billing refund (`source_ref`, Stripe's `re_...`): a redelivered event finds
it. It is `recorded` when the billing inbox takes it, `booked` once the ERP holds its
credit memo (and, by the legal entity's refund policy, its customer refund) and the
partner commission earned on the refunded amount is clawed back.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, VersionedMixin
from core.settings import RefundPolicy


class RefundStatus(StrEnum):
    RECORDED = "recorded"  # taken from billing; not yet in the ERP
    BOOKED = "booked"  # credit memo (and customer refund) posted, commission clawed back


class RefundRow(VersionedMixin, Base):
    __tablename__ = "refunds"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    legal_entity_id: Mapped[str] = mapped_column(ForeignKey("legal_entities.id"))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    # Billing's refund id (unique: one row per refund) and the charge it refunds.
    source_ref: Mapped[str] = mapped_column(String(255), unique=True)
    charge_ref: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str | None] = mapped_column(String(100))
    refunded_on: Mapped[date] = mapped_column(Date)
    policy: Mapped[RefundPolicy] = mapped_column(String(30))
    status: Mapped[RefundStatus] = mapped_column(String(20))
    credit_memo_id: Mapped[str | None] = mapped_column(ForeignKey("credit_memos.id"))
    erp_refund_document_number: Mapped[str | None] = mapped_column(String(40))
    booked_at: Mapped[datetime | None]
