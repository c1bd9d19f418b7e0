"""Legal entities (ERP companies) and their accounting periods."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.canonical.parties import ClosedPeriodPolicy, PeriodStatus
from core.models.base import Base, VersionedMixin


class LegalEntityRow(VersionedMixin, Base):
    __tablename__ = "legal_entities"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    functional_currency: Mapped[str] = mapped_column(String(3))
    closed_period_policy: Mapped[ClosedPeriodPolicy] = mapped_column(String(20))
    erp_company_id: Mapped[str] = mapped_column(String(64), unique=True)

    periods: Mapped[list[AccountingPeriodRow]] = relationship(
        lazy="raise", order_by="AccountingPeriodRow.starts_on"
    )


class AccountingPeriodRow(Base):
    __tablename__ = "accounting_periods"
    __table_args__ = (UniqueConstraint("legal_entity_id", "starts_on"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    legal_entity_id: Mapped[str] = mapped_column(ForeignKey("legal_entities.id"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    status: Mapped[PeriodStatus] = mapped_column(String(10))
