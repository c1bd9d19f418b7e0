"""Legal entities (ERP companies), their accounting periods and tax-code mappings."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.canonical.parties import ClosedPeriodPolicy, PeriodStatus
from core.models.base import Base, VersionedMixin
from core.settings import DEFAULT_ERP_CONNECTION


class LegalEntityRow(VersionedMixin, Base):
    """A company that issues invoices. Its periods and tax codes change its version too."""

    __tablename__ = "legal_entities"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    functional_currency: Mapped[str] = mapped_column(String(3))
    closed_period_policy: Mapped[ClosedPeriodPolicy] = mapped_column(String(20))
    # The configured ERP connection (`LEDGERGATE_ERP_CONNECTIONS`) and its company there.
    erp_connection: Mapped[str] = mapped_column(String(40), default=DEFAULT_ERP_CONNECTION)
    erp_company_id: Mapped[str] = mapped_column(String(64), unique=True)
    # Days a customer in dunning keeps its account before suspension; none: the setting's.
    dunning_grace_days: Mapped[int | None]

    periods: Mapped[list[AccountingPeriodRow]] = relationship(
        lazy="raise", order_by="AccountingPeriodRow.starts_on"
    )
    tax_codes: Mapped[list[TaxCodeMappingRow]] = relationship(
        lazy="raise", order_by="TaxCodeMappingRow.tax_code"
    )

    def erp_tax_code(self, tax_code: str) -> str:
        """The ERP tax group of a canonical tax code: its mapping, or the code itself."""
        return next((m.erp_tax_code for m in self.tax_codes if m.tax_code == tax_code), tax_code)


class AccountingPeriodRow(Base):
    __tablename__ = "accounting_periods"
    __table_args__ = (UniqueConstraint("legal_entity_id", "starts_on"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    legal_entity_id: Mapped[str] = mapped_column(ForeignKey("legal_entities.id"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    status: Mapped[PeriodStatus] = mapped_column(String(10))
    # Why the period was last closed or reopened, as finance recorded it.
    status_reason: Mapped[str | None] = mapped_column(String(500))


class TaxCodeMappingRow(Base):
    """The ERP tax group a canonical tax code (a product's, a line's) is booked with."""

    __tablename__ = "tax_code_mappings"
    __table_args__ = (UniqueConstraint("legal_entity_id", "tax_code"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    legal_entity_id: Mapped[str] = mapped_column(ForeignKey("legal_entities.id"))
    tax_code: Mapped[str] = mapped_column(String(20))
    erp_tax_code: Mapped[str] = mapped_column(String(20))
