"""Entitlements: what a customer may use, granted by subscriptions."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.canonical.subscriptions import EntitlementStatus
from core.models.base import Base, VersionedMixin


class EntitlementRow(VersionedMixin, Base):
    __tablename__ = "entitlements"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    subscription_id: Mapped[str | None] = mapped_column(ForeignKey("subscriptions.id"))
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    feature: Mapped[str] = mapped_column(String(80))
    tier: Mapped[str] = mapped_column(String(40))
    status: Mapped[EntitlementStatus] = mapped_column(String(20))
