"""The amendments' ERP documents a renewal's payment settles with the renewal's invoice.

A mid-cycle amendment posts its own ERP document at once (an upgrade's sales invoice, a
downgrade's credit memo), while billing may collect the proration only with the next
invoice of the subscription: that invoice's `invoice.paid` pays the renewal and the
prorations together. The gateway links the amendments to the invoice registered from the
billing invoice (`process_apis.invoices.billed.link_prorations`), and the payment settles
all of them: each downgrade's credit memo applied to the renewal's ERP invoice
(`apply_credit_memo:<amendment id>`, for the memo's total), then the cash, to the renewal's
invoice for what is left of it and to each upgrade's sales invoice for its total
(`apply_payment:<amendment id>`, its own ERP customer payment keyed `<payment id>-A<n>`).

The amounts agree to the cent or nothing is applied: the cash and the credit balance
billing took pay what the renewal's invoice and the upgrades owe, less the downgrades'
credit. The cash must leave some for the renewal's invoice once the upgrades are paid,
else `payment-balance-unmatched` before the ERP is called; on the run's first attempt
the ERP's invoices must owe exactly that (`check_erp_invoice`, one read per document;
more paid than owed is `payment-exceeds-remaining`, less is `payment-balance-unmatched`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models.amendment_proration import AmendmentProrationRow
from core.models.payment import PaymentRow, PaymentSource
from process_apis.payments.errors import PaymentBalanceUnmatched

CASH_STEP = "apply_payment"
MEMO_STEP = "apply_credit_memo"
CHECK_STEP = "check_erp_invoice"


@dataclass(frozen=True)
class CollectedDocument:
    """One collected amendment's ERP document and what the payment settles of it."""

    amendment_id: str
    erp_document_id: str
    erp_document_number: str
    credit: bool  # a downgrade's credit memo; else an upgrade's sales invoice
    amount: int  # its total, tax included, always positive
    key: str  # the cash's external document number for an upgrade's invoice

    @property
    def step(self) -> str:
        return f"{MEMO_STEP if self.credit else CASH_STEP}:{self.amendment_id}"

    @property
    def check_step(self) -> str:
        return f"{CHECK_STEP}:{self.amendment_id}"


def application_key(payment_id: str, number: int) -> str:
    """The ERP customer payment's external document number for the payment's `number`th
    upgrade document (from 1): 35 characters at most with its reversal's `-R`."""
    return f"{payment_id}-A{number}"


async def collected_documents(
    session: AsyncSession, payment: PaymentRow
) -> list[CollectedDocument]:
    """The ERP documents of the amendments billing collected with the payment's invoice
    (a payment billing collected: one recorded through the API pays our invoice alone)."""
    if payment.source != PaymentSource.BILLING:
        return []
    rows = (
        await session.scalars(
            select(AmendmentProrationRow)
            .where(AmendmentProrationRow.invoice_id == payment.invoice_id)
            .order_by(AmendmentProrationRow.service_start, AmendmentProrationRow.id)
        )
    ).all()
    documents: list[CollectedDocument] = []
    upgrades = 0
    for row in rows:
        credit = row.amount < 0
        upgrades += 0 if credit else 1
        documents.append(
            CollectedDocument(
                amendment_id=row.id,
                erp_document_id=row.erp_document_id or "",
                erp_document_number=row.erp_document_number,
                credit=credit,
                amount=row.erp_total_including_tax or 0,
                key="" if credit else application_key(payment.id, upgrades),
            )
        )
    cash_to_upgrades = sum(doc.amount for doc in documents if not doc.credit)
    if documents and payment.amount <= cash_to_upgrades:
        raise PaymentBalanceUnmatched(
            f"billing collected {payment.amount} {payment.currency} in cash with invoice "
            f"{payment.invoice_id}, but the upgrades it collected with it owe "
            f"{cash_to_upgrades} {payment.currency} in the ERP: the amounts disagree",
            balance_applied=payment.balance_applied,
            open_credit=sum(doc.amount for doc in documents if doc.credit),
        )
    return documents
