"""The part of a payment's cash applied to an ERP document besides its own invoice.

A renewal billing collected with an amendment's upgrade proration is paid in one
`invoice.paid`; in the ERP the cash is applied to the renewal's invoice (the payment's own
customer payment, keyed by the payment id) and to the amendment's sales invoice (one
customer payment per such document, keyed `<payment id>-A<n>`: its id here). The payment's
own application is its `amount` less these.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, utcnow


class PaymentApplicationRow(Base):
    __tablename__ = "payment_applications"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # the external document number
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    amendment_id: Mapped[str] = mapped_column(ForeignKey("amendment_prorations.id"))
    erp_invoice_id: Mapped[str] = mapped_column(String(40))
    amount: Mapped[int] = mapped_column(BigInteger)
    erp_ref: Mapped[str | None] = mapped_column(String(40))
    erp_document_number: Mapped[str | None] = mapped_column(String(40))
    reversal_document_number: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
