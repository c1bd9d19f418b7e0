"""Canonical ERP objects ⇄ NetSuite REST record wire models. Pure functions, no I/O.

NetSuite keys our records by `externalId`: a customer's is its canonical number, an
invoice's its external document number. An invoice pending approval has not posted
to the ledger: it is our draft, and owes nothing yet; approving it posts it. Amounts
finer than the currency's minor unit raise `ValueError` (a contract breach).
"""

from __future__ import annotations

from collections.abc import Mapping

from core.money import from_decimal, to_decimal
from system_apis.erp.adapters.netsuite_wire import (
    APPROVED,
    PENDING_APPROVAL,
    REJECTED,
    NsCreditMemo,
    NsCreditMemoCreate,
    NsCustomer,
    NsCustomerUpsert,
    NsInvoice,
    NsInvoiceApproval,
    NsInvoiceCreate,
    NsInvoiceDates,
    NsInvoiceLineCreate,
    NsInvoiceLinesCreate,
    NsRefRequest,
)
from system_apis.erp.schemas import (
    ErpCustomer,
    ErpCustomerUpsert,
    ErpDocumentStatus,
    ErpInvoiceLine,
    ErpSalesCreditMemo,
    ErpSalesCreditMemoCreate,
    ErpSalesInvoice,
    ErpSalesInvoiceCreate,
)


def ns_is(field: str, value: str) -> str:
    """A REST query (`q`) condition `field IS "value"`, quotes and backslashes escaped."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{field} IS "{escaped}"'


def ns_any_of(field: str, record_id: str) -> str:
    return f"{field} ANY_OF [{record_id}]"


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


def _lines_to_ns(
    lines: tuple[ErpInvoiceLine, ...],
    currency: str,
    tax_code_ids: Mapping[str, str],
    line_item_id: str,
) -> NsInvoiceLinesCreate:
    return NsInvoiceLinesCreate(
        items=[
            NsInvoiceLineCreate(
                item=NsRefRequest(id=line_item_id),
                description=line.description,
                quantity=line.quantity,
                rate=to_decimal(line.unit_price, currency),
                tax_code=NsRefRequest(id=tax_code_ids[line.tax_code]),
            )
            for line in sorted(lines, key=lambda line: line.sequence)
        ]
    )


def credit_memo_to_ns(
    memo: ErpSalesCreditMemoCreate,
    *,
    customer_id: str,
    currency_id: str,
    tax_code_ids: Mapping[str, str],
    line_item_id: str,
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
        item=_lines_to_ns(memo.lines, memo.currency, tax_code_ids, line_item_id),
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
        item=_lines_to_ns(invoice.lines, invoice.currency, tax_code_ids, line_item_id),
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
