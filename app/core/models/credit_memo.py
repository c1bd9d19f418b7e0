"""Credit memos against invoices."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.canonical.documents import CreditMemoStatus
from app.core.models.base import BackendRefsMixin, Base, VersionedMixin


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
