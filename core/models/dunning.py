"""Dunning cases: a customer's unpaid billing, from the payment failure to its end.

One case per episode. It opens `dunning` on billing's payment failure, becomes
`suspended` once the legal entity's grace period has passed unpaid, and is `closed` by
a payment (`closed_reason`: `paid` during grace, `reactivated` after a suspension). A
customer has at most one case that is not `closed`.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, VersionedMixin

OPEN = text("status <> 'closed'")


class DunningStatus(StrEnum):
    DUNNING = "dunning"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class DunningCaseRow(VersionedMixin, Base):
    __tablename__ = "dunning_cases"
    __table_args__ = (
        # At most one open case per customer: a second payment failure joins the first.
        Index(
            "uq_dunning_cases_open_customer",
            "customer_id",
            unique=True,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        ),
        Index("ix_dunning_cases_status_grace", "status", "grace_ends_on"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[DunningStatus] = mapped_column(String(20))
    # The billing event that opened it (`invoice.payment_failed`, a `past_due` subscription).
    opened_by_event: Mapped[str] = mapped_column(String(255))
    billing_invoice_ref: Mapped[str | None] = mapped_column(String(255))
    opened_at: Mapped[datetime]
    grace_ends_on: Mapped[date] = mapped_column(Date)
    suspended_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    closed_reason: Mapped[str | None] = mapped_column(String(20))
    closed_by_event: Mapped[str | None] = mapped_column(String(255))
