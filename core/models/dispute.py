"""Disputes (chargebacks) of a paid invoice's charge, from billing's dispute events.

`open` from `charge.dispute.created`: the invoice is disputed and the commission its
payment earned is held (not settled). Closed `won`: the hold is released. Closed
`lost`: the ERP receives the write-off and the dispute fee as a journal, the commission
is clawed back (and the hold released, so claw-back and original settle together).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, VersionedMixin


class DisputeStatus(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class DisputeRow(VersionedMixin, Base):
    __tablename__ = "disputes"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    legal_entity_id: Mapped[str] = mapped_column(ForeignKey("legal_entities.id"))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    # Billing's dispute id (one row per dispute) and the charge disputed.
    source_ref: Mapped[str] = mapped_column(String(255), unique=True)
    charge_ref: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[DisputeStatus] = mapped_column(String(20))
    opened_on: Mapped[date] = mapped_column(Date)
    # Set when it is closed; the fee billing charged for a lost dispute.
    closed_on: Mapped[date | None] = mapped_column(Date)
    fee: Mapped[int | None] = mapped_column(BigInteger)
    erp_document_number: Mapped[str | None] = mapped_column(String(40))
    # The loss journal's posting date: its period, which can be later than `closed_on`'s.
    posting_date: Mapped[date | None] = mapped_column(Date)
    closed_at: Mapped[datetime | None]
