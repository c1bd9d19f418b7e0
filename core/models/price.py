"""Prices of products, one per currency and interval."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.canonical.catalog import BillingInterval, CapPolicy, MeterAggregation
from core.models.base import BackendRefsMixin, Base, VersionedMixin
from core.quantity import from_micros


class PriceRow(VersionedMixin, BackendRefsMixin, Base):
    __tablename__ = "prices"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    unit_amount: Mapped[int] = mapped_column(BigInteger)
    interval: Mapped[BillingInterval] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(default=True)
    # A metered price charges for the usage of `meter`; quantities in millionths of a unit.
    meter: Mapped[str | None] = mapped_column(String(60))
    aggregation: Mapped[MeterAggregation | None] = mapped_column(String(20))
    unique_property: Mapped[str | None] = mapped_column(String(40))
    min_quantity_micros: Mapped[int | None] = mapped_column(BigInteger)
    max_quantity_micros: Mapped[int | None] = mapped_column(BigInteger)
    integer_only: Mapped[bool] = mapped_column(default=False)
    cap_micros: Mapped[int | None] = mapped_column(BigInteger)
    cap_policy: Mapped[CapPolicy | None] = mapped_column(String(10))

    @property
    def metering(self) -> dict[str, Any] | None:
        """The meter and its rules as the canonical `Metering`; None for a flat price."""
        if self.meter is None:
            return None

        def quantity(micros: int | None) -> str | None:
            return None if micros is None else from_micros(micros)

        return {
            "meter": self.meter,
            "aggregation": self.aggregation,
            "unique_property": self.unique_property,
            "min_quantity": quantity(self.min_quantity_micros),
            "max_quantity": quantity(self.max_quantity_micros),
            "integer_only": self.integer_only,
            "cap": quantity(self.cap_micros),
            "cap_policy": self.cap_policy,
        }
