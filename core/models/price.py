"""Prices of products, one per currency and interval."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.canonical.catalog import BillingInterval
from core.models.base import BackendRefsMixin, Base, VersionedMixin


class PriceRow(VersionedMixin, BackendRefsMixin, Base):
    __tablename__ = "prices"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    unit_amount: Mapped[int] = mapped_column(BigInteger)
    interval: Mapped[BillingInterval] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(default=True)
