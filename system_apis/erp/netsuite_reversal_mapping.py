"""A reversed customer payment in NetSuite ⇄ our reversing entry. Pure functions, no I/O.

NetSuite records a returned payment as a `journalEntry` that debits Accounts Receivable
for the customer (the line's `entity`) and credits the bank the payment was deposited
to; the payment is then re-applied from its invoice to that entry. The entry is our
reversing entry: the payment's amount with the opposite sign, like Business Central's
reversing payment line.
"""

from __future__ import annotations

from decimal import Decimal

from core.money import from_decimal, to_decimal
from system_apis.erp.adapters.netsuite_wire import (
    NsCustomerPayment,
    NsJournalEntry,
    NsJournalEntryCreate,
    NsJournalLineCreate,
    NsJournalLinesCreate,
    NsPaymentApplication,
    NsPaymentApplicationsUpdate,
    NsPaymentApplicationUpdate,
    NsPaymentReapplication,
    NsRef,
    NsRefRequest,
)
from system_apis.erp.schemas import ErpCustomerPayment, ErpCustomerPaymentReversal


def reversing_entry_to_ns(
    reversal: ErpCustomerPaymentReversal, payment: NsCustomerPayment, company_id: str
) -> NsJournalEntryCreate:
    """The posted entry, keyed by the reversal's external document number (`externalId`,
    `tranId`): A/R debited for the payment's customer, its deposit account credited."""
    if payment.receivable is None:
        raise ValueError(f"customer payment {payment.id} names no A/R account (aracct)")
    amount = to_decimal(reversal.amount, reversal.currency)
    return NsJournalEntryCreate(
        external_id=reversal.external_document_number,
        tran_id=reversal.external_document_number,
        subsidiary=NsRefRequest(id=company_id),
        currency=NsRefRequest(id=payment.currency.id),
        tran_date=reversal.posting_date,
        memo=reversal.description,
        approved=True,
        line=NsJournalLinesCreate(
            items=[
                NsJournalLineCreate(
                    account=NsRefRequest(id=payment.receivable.id),
                    entity=NsRefRequest(id=payment.customer.id),
                    debit=amount,
                    memo=reversal.description,
                ),
                NsJournalLineCreate(
                    account=NsRefRequest(id=payment.account.id),
                    credit=amount,
                    memo=reversal.description,
                ),
            ]
        ),
    )


def invoice_application(payment: NsCustomerPayment, invoice_id: str) -> NsPaymentApplication:
    """The payment's `apply` line on the invoice (applied or not any more)."""
    for application in payment.apply.items:
        if application.doc.id == invoice_id:
            return application
    raise ValueError(f"customer payment {payment.id} has no apply line for invoice {invoice_id}")


def is_reapplied(payment: NsCustomerPayment, entry_id: str) -> bool:
    return any(a.apply and a.doc.id == entry_id for a in payment.apply.items)


def reapplication_to_ns(
    reversal: ErpCustomerPaymentReversal, invoice: NsPaymentApplication, entry_id: str
) -> NsPaymentReapplication:
    """Take the reversal's amount off the invoice (unapplied when nothing is left) and
    apply it to the reversing entry's A/R debit."""
    taken = to_decimal(reversal.amount, reversal.currency)
    left = invoice.amount - taken if invoice.apply else Decimal(0)
    if left < 0:
        raise ValueError(
            f"the payment applies {invoice.amount} to invoice {invoice.doc.id}, less than "
            f"the {taken} reversed"
        )
    return NsPaymentReapplication(
        apply=NsPaymentApplicationsUpdate(
            items=[
                NsPaymentApplicationUpdate(
                    doc=NsRefRequest(id=invoice.doc.id),
                    apply=left > 0,
                    amount=left if left > 0 else None,
                ),
                NsPaymentApplicationUpdate(doc=NsRefRequest(id=entry_id), apply=True, amount=taken),
            ]
        )
    )


def receivable_customer(entry: NsJournalEntry) -> str | None:
    """The customer whose A/R a posted entry debits (a payment's reversing entry), if any."""
    if not entry.approved:
        return None
    customers = {line.entity.id for line in entry.line.items if line.entity and line.debit}
    if len(customers) > 1:
        raise ValueError(f"journal entry {entry.id} debits {len(customers)} customers")
    return next(iter(customers), None)


def reversal_from_ns(
    entry: NsJournalEntry, customer_number: str | None, currency: str, invoice: NsRef | None
) -> ErpCustomerPayment:
    """The reversing entry as a payment of the opposite sign, on the bank it credits; the
    invoice is known where the payment was read with it (the entry names none)."""
    debited = [line for line in entry.line.items if line.entity is not None and line.debit]
    banks = {line.account.id for line in entry.line.items if line.entity is None and line.credit}
    if not debited or len(banks) != 1:
        raise ValueError(f"journal entry {entry.id} is no payment's reversing entry")
    amount = sum(from_decimal(line.debit or Decimal(0), currency) for line in debited)
    return ErpCustomerPayment(
        id=entry.id,
        journal_id=banks.pop(),
        line_number=None,
        document_number=entry.tran_id or None,
        external_document_number=entry.external_id or None,
        customer_number=customer_number,
        posting_date=entry.tran_date,
        currency=currency,
        amount=-amount,
        applies_to_invoice_id=None if invoice is None else invoice.id,
        applies_to_invoice_number=None if invoice is None else invoice.ref_name,
    )
