"""Commission lines: what a payment earns a partner, with the lineage of the calculation.

A line links the payment, the invoice line it allocates the payment to, the partner
attribution (the customer's partner and the CRM's eligibility answer with its deal
registration), the rate card version in force on the payment date, the amounts, and
finally the settlement statement that pays it.

Nothing is deleted or edited: a payment's reversal claws each line back with a line of
the opposite amounts that names the line it reverses (`reverses_line_id`), dated like it,
which the next settlement statement settles. A refund or a lost dispute claws back its
share of each line the same way, naming itself as the claw-back's `cause_id`. A line an
open dispute holds (`held_by`) is not settled until the dispute is closed.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, utcnow


class CommissionLineRow(Base):
    __tablename__ = "commission_lines"
    __table_args__ = (
        # One earned line per invoice line of a payment, and one claw-back per line.
        Index(
            "uq_commission_lines_earned",
            "payment_id",
            "invoice_line_id",
            unique=True,
            sqlite_where=text("reverses_line_id IS NULL"),
            postgresql_where=text("reverses_line_id IS NULL"),
        ),
        # One claw-back per line for a payment's reversal, and one per line and cause.
        Index(
            "uq_commission_lines_reversal",
            "reverses_line_id",
            unique=True,
            sqlite_where=text("cause_id IS NULL"),
            postgresql_where=text("cause_id IS NULL"),
        ),
        Index(
            "uq_commission_lines_cause",
            "reverses_line_id",
            "cause_id",
            unique=True,
            sqlite_where=text("cause_id IS NOT NULL"),
            postgresql_where=text("cause_id IS NOT NULL"),
        ),
        # A settlement run's grouping: the unsettled lines of a partner up to a date.
        Index(
            "ix_commission_lines_unsettled",
            "settlement_id",
            "partner_id",
            "legal_entity_id",
            "currency",
            "paid_on",
        ),
        # The partner portal's keyset pages: a partner's lines, newest id first.
        Index("ix_commission_lines_partner_keyset", "partner_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"))
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), index=True)
    invoice_line_id: Mapped[str] = mapped_column(ForeignKey("invoice_lines.id"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"))
    legal_entity_id: Mapped[str] = mapped_column(ForeignKey("legal_entities.id"))
    currency: Mapped[str] = mapped_column(String(3))
    paid_on: Mapped[date] = mapped_column(Date)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    product_tier: Mapped[str] = mapped_column(String(40))
    eligible: Mapped[bool]
    eligibility_reason: Mapped[str] = mapped_column(String(60))
    deal_registration_id: Mapped[str | None] = mapped_column(String(40))
    plan_code: Mapped[str] = mapped_column(String(50))
    rate_card_version: Mapped[int | None] = mapped_column(Integer)
    rate_effective_from: Mapped[date | None] = mapped_column(Date)
    rate_bps: Mapped[int] = mapped_column(Integer)
    base_amount: Mapped[int] = mapped_column(BigInteger)
    commission_amount: Mapped[int] = mapped_column(BigInteger)
    settlement_id: Mapped[str | None] = mapped_column(ForeignKey("settlements.id"))
    reverses_line_id: Mapped[str | None] = mapped_column(ForeignKey("commission_lines.id"))
    # The refund or dispute a claw-back answers; none for a payment's reversal.
    cause_id: Mapped[str | None] = mapped_column(String(40))
    # The open dispute holding the line back from settlement.
    held_by: Mapped[str | None] = mapped_column(String(40), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
