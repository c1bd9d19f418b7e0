"""Credit memos against invoices: a support credit or a correction, its approval, its
lines (a correction's lineage to the invoice lines it credits) and its backend documents."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.canonical.documents import CreditMemoKind, CreditMemoStatus
from core.models.base import BackendRefsMixin, Base, VersionedMixin


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
    # The support case it comes from (the desk's id) and the desk's service credit for it.
    case_id: Mapped[str | None] = mapped_column(String(40))
    support_ref: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(String(500))
    entitlement_product_id: Mapped[str | None] = mapped_column(String(40))
    entitlement_tier: Mapped[str | None] = mapped_column(String(20))
    approval_required: Mapped[bool | None]
    requested_by: Mapped[str | None] = mapped_column(String(80))
    approved_by: Mapped[str | None] = mapped_column(String(80))
    approved_at: Mapped[datetime | None]
    posting_date: Mapped[date | None] = mapped_column(Date)
    erp_document_number: Mapped[str | None] = mapped_column(String(40))
    erp_total_including_tax: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[CreditMemoKind] = mapped_column(
        String(20), default=CreditMemoKind.SUPPORT, server_default=CreditMemoKind.SUPPORT.value
    )
    # A correction's tax credited, as its lines' shares of their tax add up (`amount` is net).
    tax_amount: Mapped[int | None] = mapped_column(BigInteger)
    # `<client>:<Idempotency-Key>` of the request that created it: a repeat finds it.
    request_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # A support credit on a paid invoice: `refund` or `customer_balance` (CreditSettlement).
    settlement: Mapped[str | None] = mapped_column(String(20))

    lines: Mapped[list[CreditMemoLineRow]] = relationship(
        lazy="raise", order_by="CreditMemoLineRow.sequence", cascade="all, delete-orphan"
    )


class CreditMemoLineRow(Base):
    """What a correction credits of one invoice line: net amount and its share of the tax."""

    __tablename__ = "credit_memo_lines"
    __table_args__ = (UniqueConstraint("credit_memo_id", "sequence"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    credit_memo_id: Mapped[str] = mapped_column(ForeignKey("credit_memos.id"))
    invoice_line_id: Mapped[str] = mapped_column(ForeignKey("invoice_lines.id"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    # The units credited, when the line is credited by quantity.
    quantity: Mapped[int | None] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)
    tax_amount: Mapped[int] = mapped_column(BigInteger)
