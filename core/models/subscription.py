"""Subscriptions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.canonical.subscriptions import SubscriptionStatus
from core.models.base import BackendRefsMixin, Base, VersionedMixin


class SubscriptionRow(VersionedMixin, BackendRefsMixin, Base):
    __tablename__ = "subscriptions"
    # The partner portal's keyset pages: a partner's subscriptions, newest id first.
    __table_args__ = (Index("ix_subscriptions_partner_keyset", "partner_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    price_id: Mapped[str] = mapped_column(ForeignKey("prices.id"))
    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id"))
    quantity: Mapped[int]
    status: Mapped[SubscriptionStatus] = mapped_column(String(20))
    current_period_start: Mapped[datetime | None]
    current_period_end: Mapped[datetime | None]
