"""The backend steps every credit memo takes: a support credit's, a correction's, a refund's;
and the customer refund that pays money back on a payment (a refund's, a credit's on a
paid invoice).

The ERP sales credit memo is created (keyed by our memo id as external document
number) against the posted ERP invoice and posted, which applies it to the invoice.
The ERP is the gatekeeper of what the invoice still owes: a credit over it is refused,
named `credit-exceeds-remaining`. Billing's credit note for what the ERP credited (tax
included) is found first by our id, so a repeat issues nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from core.canonical.base import fit
from core.canonical.documents import CreditSettlement
from core.models.credit_memo import CreditMemoRow
from core.models.customer import CustomerRow
from core.models.invoice import InvoiceRow
from core.models.payment import PaymentRow
from core.settings import LedgerSettings
from process_apis.deps import ProcessContext
from process_apis.errors import CreditExceedsRemaining
from process_apis.runs.engine import RunHandle
from system_apis.billing.schemas import BillingCreditNote, BillingCreditNoteCreate, CreditNoteReason
from system_apis.erp.schemas import (
    ErpCustomerPayment,
    ErpCustomerPaymentReversal,
    ErpDocumentStatus,
    ErpInvoiceLine,
    ErpJournalCreate,
    ErpSalesCreditMemo,
    ErpSalesCreditMemoCreate,
    ErpSalesInvoice,
)
from system_apis.errors import BackendBusinessError, BackendContractError

ERP_STEPS = ("create_erp_credit_memo", "post_erp_credit_memo", "read_erp_invoice")
BILLING_STEP = "issue_billing_credit_note"


@dataclass(frozen=True)
class ErpMemo:
    """The ERP credit memo of one of our memos, against the ERP invoice it corrects."""

    credit_memo_id: str
    company_id: str
    erp_invoice_id: str
    document: ErpSalesCreditMemoCreate

    @classmethod
    def of(
        cls,
        memo: CreditMemoRow,
        invoice: InvoiceRow,
        *,
        customer_number: str,
        company_id: str,
        posting_date: date,
        lines: tuple[ErpInvoiceLine, ...],
        applied: bool = True,
    ) -> ErpMemo:
        """`memo` as the ERP receives it: keyed by its id, dated and due on `posting_date`,
        applied to the invoice's ERP document (else left open, the customer's credit)."""
        return cls(
            credit_memo_id=memo.id,
            company_id=company_id,
            erp_invoice_id=invoice.erp_ref or "",
            document=ErpSalesCreditMemoCreate(
                external_document_number=memo.id,
                customer_number=customer_number,
                currency=memo.currency,
                posting_date=posting_date,
                due_date=posting_date,
                applies_to_invoice_id=invoice.erp_ref if applied else None,
                lines=lines,
            ),
        )


@dataclass(frozen=True)
class CreditNote:
    """Billing's credit note of one of our memos, on the invoice's billing document."""

    credit_memo_id: str
    billing_invoice_id: str
    reason: CreditNoteReason | None
    memo: str | None
    # On a paid invoice: paid back on its charge, or left to the customer's balance.
    settlement: CreditSettlement | None = None


async def post_erp_memo(
    context: ProcessContext, run: RunHandle, plan: ErpMemo
) -> ErpSalesCreditMemo:
    """The ERP credit memo, created and posted under our memo id."""
    return await post_erp_draft(context, run, plan, await create_erp_memo(context, run, plan))


async def create_erp_memo(
    context: ProcessContext, run: RunHandle, plan: ErpMemo
) -> ErpSalesCreditMemo:
    """The ERP's draft credit memo under our memo id: it tells the total, tax included."""
    erp, company = context.erp, plan.company_id
    draft: ErpSalesCreditMemo = await run.step(
        "create_erp_credit_memo",
        lambda: erp.create_sales_credit_memo(company, plan.document),
        request=plan.document,
        downstream_key=plan.credit_memo_id,
        backend_ref=lambda memo: memo.id,
    )
    return draft


async def post_erp_draft(
    context: ProcessContext, run: RunHandle, plan: ErpMemo, draft: ErpSalesCreditMemo
) -> ErpSalesCreditMemo:
    """The draft posted (applied to the invoice when it names it); a refusal explained."""
    erp, company, key = context.erp, plan.company_id, plan.credit_memo_id
    try:
        posted = await run.step(
            "post_erp_credit_memo",
            lambda: erp.post_sales_credit_memo(company, draft.id),
            request={"credit_memo_id": draft.id},
            downstream_key=key,
            backend_ref=lambda memo: memo.number,
        )
    except BackendBusinessError as error:
        await _explain_refusal(context, run, plan, draft, error)
        raise
    if posted.status not in (ErpDocumentStatus.POSTED, ErpDocumentStatus.PAID):
        raise BackendContractError(
            f"the ERP acknowledged the post of {draft.id} but reports it {posted.status}",
            backend="erp",
            operation="post_sales_credit_memo",
        )
    return posted


async def _explain_refusal(
    context: ProcessContext,
    run: RunHandle,
    plan: ErpMemo,
    draft: ErpSalesCreditMemo,
    error: BackendBusinessError,
) -> None:
    """Name the usual refusal: a credit over what the posted invoice still owes."""
    invoice: ErpSalesInvoice = await run.step(
        "read_erp_invoice",
        lambda: context.erp.get_sales_invoice(plan.company_id, plan.erp_invoice_id),
        request={"invoice_id": plan.erp_invoice_id},
        backend_ref=lambda found: found.number,
    )
    if draft.total_including_tax > invoice.remaining_amount:
        raise CreditExceedsRemaining(
            f"the credit of {draft.total_including_tax} {draft.currency} (tax included) is "
            f"more than the {invoice.remaining_amount} invoice {invoice.number} still owes",
            credit_total=draft.total_including_tax,
            remaining_amount=invoice.remaining_amount,
        ) from error


async def issue_credit_note(
    context: ProcessContext, run: RunHandle, note: CreditNote, amount: int
) -> BillingCreditNote:
    """Billing's credit note for `amount` (what the ERP credited), issued once."""
    return await run.step(
        BILLING_STEP,
        lambda: _credit_note(context, note, amount),
        request={"invoice_id": note.billing_invoice_id, "amount": amount},
        downstream_key=note.credit_memo_id,
        backend_ref=lambda issued: issued.id,
    )


async def _credit_note(context: ProcessContext, note: CreditNote, amount: int) -> BillingCreditNote:
    """The credit note issued for this memo earlier, or a new one."""
    billing = context.billing
    page = await billing.list_credit_notes(invoice_id=note.billing_invoice_id, limit=100)
    for issued in page.credit_notes:
        if issued.reference == note.credit_memo_id:
            return issued
    return await billing.create_credit_note(
        BillingCreditNoteCreate(
            reference=note.credit_memo_id,
            invoice_id=note.billing_invoice_id,
            amount=amount,
            reason=note.reason,
            memo=note.memo,
            refund_amount=amount if note.settlement == CreditSettlement.REFUND else None,
            credit_amount=amount if note.settlement == CreditSettlement.CUSTOMER_BALANCE else None,
        ),
        idempotency_key=f"credit-note-{note.credit_memo_id}",
    )


def payment_journal(ledger: LedgerSettings) -> ErpJournalCreate:
    """The ERP's customer payment journal: payments and their reversals, against the bank."""
    return ErpJournalCreate(
        code=ledger.payment_journal,
        display_name="Ledgergate customer payments",
        balancing_account_number=ledger.bank_account,
    )


def customer_refund(
    key: str,
    amount: int,
    payment: PaymentRow,
    invoice: InvoiceRow,
    customer: CustomerRow,
    *,
    posting_date: date,
    source: str,
) -> ErpCustomerPaymentReversal:
    """`amount` paid back, taken from the bank and applied to the invoice the payment paid,
    keyed by `key` (the refund's id, or the credit memo's that paid it back)."""
    return ErpCustomerPaymentReversal(
        external_document_number=key,
        reverses_document_number=payment.erp_document_number or "",
        customer_number=customer.erp_number,
        currency=payment.currency,
        posting_date=posting_date,
        amount=amount,
        applies_to_invoice_id=invoice.erp_ref or "",
        description=fit(
            ErpCustomerPaymentReversal,
            "description",
            f"Refund {source} of {payment.erp_document_number}",
        ),
    )


async def pay_back(
    context: ProcessContext,
    handle: RunHandle,
    company_id: str,
    journal: ErpJournalCreate,
    entry: ErpCustomerPaymentReversal,
) -> ErpCustomerPayment:
    """The customer refund booked in the ERP (steps `ensure_payment_journal`,
    `refund_payment`), found by its external document number on a repeat."""
    erp = context.erp
    found = await handle.step(
        "ensure_payment_journal",
        lambda: erp.ensure_customer_payment_journal(company_id, journal),
        request=journal,
        downstream_key=journal.code,
        backend_ref=lambda made: made.id,
    )
    booked: ErpCustomerPayment = await handle.step(
        "refund_payment",
        lambda: erp.reverse_customer_payment(company_id, found.id, entry),
        request=entry,
        downstream_key=entry.external_document_number,
        backend_ref=lambda made: made.document_number,
    )
    return booked
