"""Canonical ERP objects ⇄ NetSuite REST record wire models. Pure functions, no I/O.

NetSuite keys our records by `externalId`: a customer's is its canonical number, an
invoice's its external document number. An invoice pending approval has not posted
to the ledger: it is our draft, and owes nothing yet; approving it posts it. Amounts
finer than the currency's minor unit raise `ValueError` (a contract breach).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import TypeVar

from core.money import from_decimal, to_decimal
from system_apis.erp.adapters.netsuite_wire import (
    APPROVED,
    INVOICE_APPLICATION,
    PENDING_APPROVAL,
    REJECTED,
    NsCreditMemo,
    NsCreditMemoCreate,
    NsCustomer,
    NsCustomerPayment,
    NsCustomerPaymentCreate,
    NsCustomerUpsert,
    NsInvoice,
    NsInvoiceApproval,
    NsInvoiceCreate,
    NsInvoiceDates,
    NsInvoiceLineCreate,
    NsInvoiceLinesCreate,
    NsJournalEntry,
    NsJournalEntryCreate,
    NsJournalLineCreate,
    NsJournalLinesCreate,
    NsRefRequest,
)
from system_apis.erp.schemas import (
    ErpCustomer,
    ErpCustomerPayment,
    ErpCustomerPaymentCreate,
    ErpCustomerUpsert,
    ErpDocumentStatus,
    ErpInvoiceLine,
    ErpJournalEntry,
    ErpJournalEntryCreate,
    ErpJournalLine,
    ErpLedgerEntry,
    ErpSalesCreditMemo,
    ErpSalesCreditMemoCreate,
    ErpSalesInvoice,
    ErpSalesInvoiceCreate,
    ErpSalesOrderLine,
)

ItemLine = TypeVar("ItemLine", ErpInvoiceLine, ErpSalesOrderLine)


def ns_is(field: str, value: str) -> str:
    """A REST query (`q`) condition `field IS "value"`, quotes and backslashes escaped."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{field} IS "{escaped}"'


def ns_any_of(field: str, record_id: str) -> str:
    return f"{field} ANY_OF [{record_id}]"


def ns_dated_between(field: str, first: date, last: date) -> str:
    """`first <= field <= last`, dates written `M/D/YYYY` (the account's date format)."""
    return (
        f'{field} ON_OR_AFTER "{first.month}/{first.day}/{first.year}" AND '
        f'{field} ON_OR_BEFORE "{last.month}/{last.day}/{last.year}"'
    )


def customer_to_ns(
    customer: ErpCustomerUpsert, company_id: str, currency_id: str
) -> NsCustomerUpsert:
    return NsCustomerUpsert(
        entity_id=customer.number,
        company_name=customer.display_name,
        email=customer.email or "",
        currency=NsRefRequest(id=currency_id),
        subsidiary=NsRefRequest(id=company_id),
    )


def customer_from_ns(customer: NsCustomer, currency: str | None) -> ErpCustomer:
    if not customer.external_id:
        raise ValueError(f"customer {customer.id} has no externalId")
    return ErpCustomer(
        id=customer.id,
        number=customer.external_id,
        display_name=customer.company_name or "",
        currency=currency,
    )


def ns_item_lines(
    lines: Iterable[ItemLine],
    currency: str,
    tax_code_ids: Mapping[str, str],
    item_id: Callable[[ItemLine], str],
    account_id: Callable[[ItemLine], str | None] = lambda _line: None,
) -> NsInvoiceLinesCreate:
    """Invoice, credit memo or sales order lines in sequence order, each on the item
    `item_id` names for it and, where `account_id` names one, on that G/L account."""
    return NsInvoiceLinesCreate(
        items=[
            NsInvoiceLineCreate(
                item=NsRefRequest(id=item_id(line)),
                description=line.description,
                quantity=Decimal(line.quantity),
                rate=to_decimal(line.unit_price, currency),
                tax_code=NsRefRequest(id=tax_code_ids[line.tax_code]),
                account=None if (account := account_id(line)) is None else NsRefRequest(id=account),
            )
            for line in sorted(lines, key=lambda line: line.sequence)
        ]
    )


def line_account(account_ids: Mapping[str, str]) -> Callable[[ErpInvoiceLine], str | None]:
    """The internal id of a line's account, from `account_ids` by number; none without one."""
    return lambda line: None if line.account_number is None else account_ids[line.account_number]


def credit_memo_to_ns(
    memo: ErpSalesCreditMemoCreate,
    *,
    customer_id: str,
    currency_id: str,
    tax_code_ids: Mapping[str, str],
    line_item_id: str,
    account_ids: Mapping[str, str] = MappingProxyType({}),
) -> NsCreditMemoCreate:
    """A credit memo, applied to the invoice it is created from (NetSuite posts it on save)."""
    return NsCreditMemoCreate(
        external_id=memo.external_document_number,
        entity=NsRefRequest(id=customer_id),
        currency=NsRefRequest(id=currency_id),
        tran_date=memo.posting_date,
        created_from=(
            None
            if memo.applies_to_invoice_id is None
            else NsRefRequest(id=memo.applies_to_invoice_id)
        ),
        item=ns_item_lines(
            memo.lines,
            memo.currency,
            tax_code_ids,
            lambda _line: line_item_id,
            line_account(account_ids),
        ),
    )


def credit_memo_from_ns(
    memo: NsCreditMemo, customer_number: str | None, currency: str
) -> ErpSalesCreditMemo:
    return ErpSalesCreditMemo(
        id=memo.id,
        number=memo.tran_id or None,
        external_document_number=memo.external_id or None,
        customer_number=customer_number,
        currency=currency,
        posting_date=memo.tran_date,
        # Posted on save; applied in full to the invoice it was created from, as in BC.
        status=ErpDocumentStatus.POSTED if memo.created_from is None else ErpDocumentStatus.PAID,
        applies_to_invoice_id=None if memo.created_from is None else memo.created_from.id,
        applies_to_invoice_number=None if memo.created_from is None else memo.created_from.ref_name,
        line_count=len(memo.item.items),
        total_excluding_tax=from_decimal(memo.subtotal, currency),
        total_tax=from_decimal(memo.tax_total, currency),
        total_including_tax=from_decimal(memo.total, currency),
    )


def invoice_to_ns(
    invoice: ErpSalesInvoiceCreate,
    *,
    company_id: str,
    customer_id: str,
    currency_id: str,
    tax_code_ids: Mapping[str, str],
    line_item_id: str,
    account_ids: Mapping[str, str] = MappingProxyType({}),
) -> NsInvoiceCreate:
    """A new invoice pending approval, every line on the gateway's service item."""
    return NsInvoiceCreate(
        external_id=invoice.external_document_number,
        entity=NsRefRequest(id=customer_id),
        subsidiary=NsRefRequest(id=company_id),
        currency=NsRefRequest(id=currency_id),
        tran_date=invoice.posting_date,
        due_date=invoice.due_date,
        approval_status=NsRefRequest(id=PENDING_APPROVAL),
        item=ns_item_lines(
            invoice.lines,
            invoice.currency,
            tax_code_ids,
            lambda _line: line_item_id,
            line_account(account_ids),
        ),
    )


def invoice_date_changes(
    current: NsInvoice, wanted: ErpSalesInvoiceCreate
) -> NsInvoiceDates | None:
    """The PATCH that moves an unapproved invoice to the requested dates, if they moved."""
    if current.tran_date == wanted.posting_date and current.due_date == wanted.due_date:
        return None
    return NsInvoiceDates(tran_date=wanted.posting_date, due_date=wanted.due_date)


def approval() -> NsInvoiceApproval:
    return NsInvoiceApproval(approval_status=NsRefRequest(id=APPROVED))


def invoice_status(invoice: NsInvoice) -> ErpDocumentStatus:
    status = invoice.approval_status.id
    if status == PENDING_APPROVAL:
        return ErpDocumentStatus.DRAFT
    if status == REJECTED:
        return ErpDocumentStatus.CANCELED
    if status != APPROVED:
        raise ValueError(f"unknown approvalStatus {status!r}")
    return ErpDocumentStatus.PAID if invoice.amount_remaining == 0 else ErpDocumentStatus.POSTED


def invoice_from_ns(
    invoice: NsInvoice, customer_number: str | None, currency: str
) -> ErpSalesInvoice:
    status = invoice_status(invoice)
    return ErpSalesInvoice(
        id=invoice.id,
        number=invoice.tran_id or None,
        external_document_number=invoice.external_id or None,
        customer_number=customer_number,
        currency=currency,
        posting_date=invoice.tran_date,
        status=status,
        line_count=len(invoice.item.items),
        total_excluding_tax=from_decimal(invoice.subtotal, currency),
        total_tax=from_decimal(invoice.tax_total, currency),
        total_including_tax=from_decimal(invoice.total, currency),
        remaining_amount=0
        if status is ErpDocumentStatus.DRAFT
        else from_decimal(invoice.amount_remaining, currency),
    )


def payment_to_ns(payment: ErpCustomerPaymentCreate, account_id: str) -> NsCustomerPaymentCreate:
    """The payment transformed from the invoice it pays, deposited to `account_id`."""
    return NsCustomerPaymentCreate(
        external_id=payment.external_document_number,
        tran_date=payment.posting_date,
        payment=to_decimal(payment.amount, payment.currency),
        account=NsRefRequest(id=account_id),
        memo=payment.description,
    )


def payment_from_ns(
    payment: NsCustomerPayment, customer_number: str | None, currency: str
) -> ErpCustomerPayment:
    """Our payment: its deposit account stands for the journal, its one applied invoice
    (none once it is re-applied to the journal entry that reverses it)."""
    applied = [
        application
        for application in payment.apply.items
        if application.apply and application.type in (None, INVOICE_APPLICATION)
    ]
    if len(applied) > 1:
        raise ValueError(f"customer payment {payment.id} is applied to {len(applied)} invoices")
    invoice = applied[0] if applied else None
    return ErpCustomerPayment(
        id=payment.id,
        journal_id=payment.account.id,
        line_number=None,
        document_number=payment.tran_id or None,
        external_document_number=payment.external_id or None,
        customer_number=customer_number,
        posting_date=payment.tran_date,
        currency=currency,
        amount=from_decimal(payment.payment, currency),
        applies_to_invoice_id=None if invoice is None else invoice.doc.id,
        applies_to_invoice_number=None if invoice is None else invoice.ref_num,
    )


def journal_entry_to_ns(
    entry: ErpJournalEntryCreate,
    *,
    company_id: str,
    currency_id: str,
    account_ids: Mapping[str, str],
) -> NsJournalEntryCreate:
    """The entry pending approval, keyed by its document number (`externalId`, `tranId`)."""
    return NsJournalEntryCreate(
        external_id=entry.document_number,
        tran_id=entry.document_number,
        subsidiary=NsRefRequest(id=company_id),
        currency=NsRefRequest(id=currency_id),
        tran_date=entry.posting_date,
        memo=entry.external_document_number or "",
        approved=False,
        line=NsJournalLinesCreate(
            items=[
                NsJournalLineCreate(
                    account=NsRefRequest(id=account_ids[line.account_number]),
                    debit=to_decimal(line.amount, entry.currency) if line.amount > 0 else None,
                    credit=to_decimal(-line.amount, entry.currency) if line.amount < 0 else None,
                    memo=line.description,
                )
                for line in entry.lines
            ]
        ),
    )


MAX_JOURNAL_LINES = 1000
"""Ledger entry numbers are `internal id x 1000 + line`: NetSuite numbers lines per entry."""


def _signed(debit: Decimal | None, credit: Decimal | None, currency: str) -> int:
    return from_decimal(debit or Decimal(0), currency) - from_decimal(
        credit or Decimal(0), currency
    )


def journal_lines_from_ns(
    entry: NsJournalEntry, account_numbers: Mapping[str, str], currency: str
) -> tuple[ErpJournalLine, ...]:
    return tuple(
        ErpJournalLine(
            account_number=account_numbers[line.account.id],
            amount=_signed(line.debit, line.credit, currency),
            description=line.memo or "",
        )
        for line in sorted(entry.line.items, key=lambda line: line.line)
    )


def ledger_entries_from_ns(
    entry: NsJournalEntry, account_numbers: Mapping[str, str], currency: str
) -> tuple[ErpLedgerEntry, ...]:
    """An approved entry's lines on the accounts `account_numbers` names, as the ledger
    holds them."""
    if not entry.approved:
        return ()
    entries = []
    for line in sorted(entry.line.items, key=lambda line: line.line):
        if line.account.id not in account_numbers:
            continue
        if not 0 <= line.line < MAX_JOURNAL_LINES:
            raise ValueError(f"journal entry {entry.id} has a line numbered {line.line}")
        amount = _signed(line.debit, line.credit, currency)
        entries.append(
            ErpLedgerEntry(
                entry_number=int(entry.id) * MAX_JOURNAL_LINES + line.line,
                posting_date=entry.tran_date,
                document_number=entry.tran_id or None,
                account_number=account_numbers[line.account.id],
                description=line.memo or None,
                debit=max(amount, 0),
                credit=max(-amount, 0),
            )
        )
    return tuple(entries)


def document_ledger_entries(
    document: NsInvoice | NsCreditMemo, account_numbers: Mapping[str, str], currency: str
) -> tuple[ErpLedgerEntry, ...]:
    """A posted invoice's (credits) or credit memo's (debits) lines on the accounts
    `account_numbers` names: each line's amount excluding tax, as the ledger holds it."""
    credits = isinstance(document, NsInvoice)
    entries = []
    for line in sorted(document.item.items, key=lambda line: line.line):
        if line.account is None or line.account.id not in account_numbers:
            continue
        if not 0 <= line.line < MAX_JOURNAL_LINES:
            raise ValueError(f"document {document.id} has a line numbered {line.line}")
        amount = from_decimal(line.amount, currency)
        entries.append(
            ErpLedgerEntry(
                entry_number=int(document.id) * MAX_JOURNAL_LINES + line.line,
                posting_date=document.tran_date,
                document_number=document.tran_id or None,
                account_number=account_numbers[line.account.id],
                description=line.description or None,
                debit=0 if credits else amount,
                credit=amount if credits else 0,
            )
        )
    return tuple(entries)


def journal_entry_from_ns(
    entry: NsJournalEntry, journal_id: str, account_numbers: Mapping[str, str], currency: str
) -> ErpJournalEntry:
    """A draft with its lines while pending approval; posted with its ledger entries after."""
    return ErpJournalEntry(
        journal_id=journal_id,
        document_number=entry.external_id or entry.tran_id or "",
        status=ErpDocumentStatus.POSTED if entry.approved else ErpDocumentStatus.DRAFT,
        currency=currency,
        lines=() if entry.approved else journal_lines_from_ns(entry, account_numbers, currency),
        ledger_entries=ledger_entries_from_ns(entry, account_numbers, currency),
    )
