"""Partner settlement statements."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.canonical.documents import SettlementStatus
from app.core.models.base import BackendRefsMixin, Base, VersionedMixin


class SettlementRow(VersionedMixin, BackendRefsMixin, Base):
    __tablename__ = "settlements"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), index=True)
    legal_entity_id: Mapped[str] = mapped_column(ForeignKey("legal_entities.id"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    total_commission: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[SettlementStatus] = mapped_column(String(20))
