"""Customers."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.canonical.parties import CustomerStatus
from core.models.base import BackendRefsMixin, Base, VersionedMixin


class CustomerRow(VersionedMixin, BackendRefsMixin, Base):
    __tablename__ = "customers"
    # The partner portal's keyset pages: a partner's customers, newest id first.
    __table_args__ = (Index("ix_customers_partner_keyset", "partner_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    legal_entity_id: Mapped[str] = mapped_column(ForeignKey("legal_entities.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id"))
    status: Mapped[CustomerStatus] = mapped_column(String(20))
    erp_number: Mapped[str] = mapped_column(String(20), unique=True)
