"""Partner settlement statements: one per partner, legal entity, currency and period."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.canonical.documents import SettlementStatus
from core.models.base import BackendRefsMixin, Base, VersionedMixin


class SettlementRow(VersionedMixin, BackendRefsMixin, Base):
    __tablename__ = "settlements"
    __table_args__ = (
        # A period's statement is drawn up once per partner, legal entity and currency.
        Index(
            "uq_settlements_statement",
            "partner_id",
            "legal_entity_id",
            "currency",
            "period_start",
            unique=True,
        ),
        # The partner portal's statements: a partner's months, newest first.
        Index("ix_settlements_partner_period", "partner_id", "period_start"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"))
    legal_entity_id: Mapped[str] = mapped_column(ForeignKey("legal_entities.id"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    total_commission: Mapped[int] = mapped_column(BigInteger)
    # The part of the total earned in earlier, already settled months (late commissions).
    adjustment_total: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The part of the month's own lines that claws back reversed payments' commissions
    # (negative); a late claw-back is part of `adjustment_total` instead.
    clawback_total: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    status: Mapped[SettlementStatus] = mapped_column(String(20))
    line_count: Mapped[int | None] = mapped_column(Integer)
    journal_document_number: Mapped[str | None] = mapped_column(String(20))
    posting_date: Mapped[date | None] = mapped_column(Date)
    posted_at: Mapped[datetime | None]
    # Undoing a posted statement is a reversing journal entry, never a delete.
    reversal_document_number: Mapped[str | None] = mapped_column(String(20))
    reversed_at: Mapped[datetime | None]
