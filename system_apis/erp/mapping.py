"""Canonical ERP objects ⇄ Business Central wire models. Pure functions, no I/O.

Amounts cross as integer minor units on our side and decimals in major units on
BC's; a BC amount finer than the currency's minor unit raises `ValueError`, which
the adapter reports as a contract breach. BC keeps text fields as empty strings,
never null, so an absent e-mail is `""` on the wire and `None` here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from types import MappingProxyType

from core.money import from_decimal, to_decimal
from system_apis.erp.adapters.business_central_wire import (
    ACCOUNT_LINE,
    GL_ACCOUNT,
    BcBatchOperation,
    BcCompany,
    BcCurrency,
    BcCustomer,
    BcCustomerCreate,
    BcCustomerPayment,
    BcCustomerPaymentCreate,
    BcCustomerUpdate,
    BcGeneralLedgerEntry,
    BcInvoiceStatus,
    BcItem,
    BcJournal,
    BcJournalCreate,
    BcJournalLine,
    BcJournalLineCreate,
    BcJournalLineUpdate,
    BcJournalUpdate,
    BcSalesCreditMemo,
    BcSalesCreditMemoCreate,
    BcSalesCreditMemoDeepCreate,
    BcSalesCreditMemoUpdate,
    BcSalesDocumentLine,
    BcSalesDocumentLineCreate,
    BcSalesInvoice,
    BcSalesInvoiceCreate,
    BcSalesInvoiceDeepCreate,
    BcSalesInvoiceUpdate,
)
from system_apis.erp.schemas import (
    ErpCompany,
    ErpCurrency,
    ErpCustomer,
    ErpCustomerPayment,
    ErpCustomerPaymentCreate,
    ErpCustomerPaymentReversal,
    ErpCustomerUpsert,
    ErpDocumentStatus,
    ErpInvoiceLine,
    ErpItem,
    ErpJournal,
    ErpJournalCreate,
    ErpJournalEntry,
    ErpJournalEntryCreate,
    ErpJournalLine,
    ErpLedgerEntry,
    ErpSalesCreditMemo,
    ErpSalesCreditMemoCreate,
    ErpSalesInvoice,
    ErpSalesInvoiceCreate,
)

BC_STATUS: dict[BcInvoiceStatus, ErpDocumentStatus] = {
    "Draft": ErpDocumentStatus.DRAFT,
    "In Review": ErpDocumentStatus.POSTED,
    "Open": ErpDocumentStatus.POSTED,
    "Paid": ErpDocumentStatus.PAID,
    "Canceled": ErpDocumentStatus.CANCELED,
    "Corrective": ErpDocumentStatus.CANCELED,
}


def odata_eq(field: str, value: str) -> str:
    """An OData `$filter` equality on a string property, quotes escaped by doubling."""
    escaped = value.replace("'", "''")
    return f"{field} eq '{escaped}'"


def dated_between(field: str, first: date, last: date) -> str:
    """An OData `$filter` for records dated `first..last` (both included)."""
    return f"{field} ge {first.isoformat()} and {field} le {last.isoformat()}"


def posted_between(field: str, first: date, last: date) -> str:
    """An OData `$filter` for documents past draft dated `first..last` (both included)."""
    return f"{dated_between(field, first, last)} and status ne 'Draft'"


def bc_datetime(value: date) -> datetime:
    """A calendar date as the midnight-UTC date-time BC's v1.0 document declares."""
    return datetime.combine(value, time(), tzinfo=UTC)


def company_from_bc(company: BcCompany) -> ErpCompany:
    return ErpCompany(id=company.id, name=company.name, display_name=company.display_name)


def customer_from_bc(customer: BcCustomer) -> ErpCustomer:
    return ErpCustomer(
        id=customer.id,
        number=customer.number,
        display_name=customer.display_name,
        currency=customer.currency_code or None,
    )


def item_from_bc(item: BcItem, currency: str) -> ErpItem:
    """An item, its unit price in the company's `currency` (BC's local currency)."""
    unit = item.base_unit_of_measure.code if item.base_unit_of_measure else None
    return ErpItem(
        id=item.id,
        number=item.number,
        display_name=item.display_name or "",
        unit_price=None if item.unit_price is None else from_decimal(item.unit_price, currency),
        blocked=bool(item.blocked),
        base_unit_of_measure=unit or None,
    )


def customer_to_bc(customer: ErpCustomerUpsert) -> BcCustomerCreate:
    return BcCustomerCreate(
        number=customer.number,
        display_name=customer.display_name,
        email=customer.email or "",
        currency_code=customer.currency,
    )


def customer_changes(current: BcCustomer, wanted: ErpCustomerUpsert) -> BcCustomerUpdate | None:
    """The PATCH that makes `current` match `wanted`, or `None` when they already match."""
    update = BcCustomerUpdate(
        display_name=wanted.display_name,
        email=wanted.email or "",
        currency_code=wanted.currency,
    )
    unchanged = (
        current.display_name == update.display_name
        and (current.email or "") == update.email
        and (current.currency_code or "") == update.currency_code
    )
    return None if unchanged else update


def sales_invoice_to_bc(invoice: ErpSalesInvoiceCreate) -> BcSalesInvoiceCreate:
    return BcSalesInvoiceCreate(
        external_document_number=invoice.external_document_number,
        customer_number=invoice.customer_number,
        currency_code=invoice.currency,
        invoice_date=bc_datetime(invoice.posting_date),
        due_date=bc_datetime(invoice.due_date),
    )


def sales_invoice_with_lines_to_bc(
    invoice: ErpSalesInvoiceCreate, account_ids: Mapping[str, str]
) -> BcSalesInvoiceDeepCreate:
    lines = lines_to_bc(invoice.lines, invoice.currency, account_ids)
    return BcSalesInvoiceDeepCreate(
        **sales_invoice_to_bc(invoice).model_dump(), sales_invoice_lines=lines
    )


POST_AND_READ_IDS = ("post", "read")
"""The ids of the two operations of `post_and_read_operations`."""


def batch_operation_ids(index: int) -> tuple[str, str]:
    """The ids of a document's operations in a `$batch`: its insert, its post."""
    return f"c{index}", f"p{index}"


def sales_invoice_batch_operations(
    company_id: str, index: int, invoice: ErpSalesInvoiceCreate, account_ids: Mapping[str, str]
) -> list[BcBatchOperation]:
    """A new document's two `$batch` operations: the deep insert of its header and lines,
    and the post of what it created (read back with the batch's others afterwards)."""
    create, post = batch_operation_ids(index)
    body = sales_invoice_with_lines_to_bc(invoice, account_ids)
    return [
        BcBatchOperation(
            id=create,
            method="POST",
            url=f"companies({company_id})/salesInvoices",
            headers={"Content-Type": "application/json"},
            body=body.model_dump(mode="json", by_alias=True, exclude_none=True),
        ),
        BcBatchOperation(
            id=post, method="POST", url=f"${create}/Microsoft.NAV.post", depends_on=[create]
        ),
    ]


NEW_INVOICE_READ_ID = "r0"
"""The id of the read in `new_sales_invoice_operations`."""


def new_sales_invoice_operations(
    company_id: str, invoice: ErpSalesInvoiceCreate, account_ids: Mapping[str, str]
) -> list[BcBatchOperation]:
    """A new document created, posted and read back in one `$batch`: its deep insert, its
    post and the read of what it posted (with its lines), each depending on the one before
    and naming the document by the insert's `$<id>`."""
    create, post = batch_operation_ids(0)
    read = BcBatchOperation(
        id=NEW_INVOICE_READ_ID,
        method="GET",
        url=f"${create}?$expand=salesInvoiceLines",
        depends_on=[post],
    )
    return [*sales_invoice_batch_operations(company_id, 0, invoice, account_ids), read]


def post_and_read_operations(target: str, read_url: str) -> list[BcBatchOperation]:
    """`Microsoft.NAV.post` of `target` (a draft, a journal) and the read of what it posted
    (`read_url`), the read depending on the post: BC answers the post with `204`, no body.
    Both urls are relative to the API root."""
    post, read = POST_AND_READ_IDS
    return [
        BcBatchOperation(id=post, method="POST", url=f"{target}/Microsoft.NAV.post"),
        BcBatchOperation(id=read, method="GET", url=read_url, depends_on=[post]),
    ]


def sales_invoice_header_changes(
    current: BcSalesInvoice, wanted: ErpSalesInvoiceCreate
) -> BcSalesInvoiceUpdate | None:
    """The PATCH that moves a draft to the requested dates, or `None` when they match.

    A retry may carry a different posting date than the draft a crashed attempt left
    behind (a closed period rolled forward); the draft must follow the request.
    """
    if current.invoice_date == wanted.posting_date and current.due_date == wanted.due_date:
        return None
    return BcSalesInvoiceUpdate(
        invoice_date=bc_datetime(wanted.posting_date),
        due_date=bc_datetime(wanted.due_date),
    )


def sales_line_to_bc(
    line: ErpInvoiceLine, currency: str, account_ids: Mapping[str, str] = MappingProxyType({})
) -> BcSalesDocumentLineCreate:
    """A line; one with an account is of type `Account`, its id found in `account_ids`."""
    account = line.account_number
    return BcSalesDocumentLineCreate(
        sequence=line.sequence,
        line_type=None if account is None else ACCOUNT_LINE,
        account_id=None if account is None else account_ids[account],
        description=line.description,
        quantity=line.quantity,
        unit_price=to_decimal(line.unit_price, currency),
        tax_code=line.tax_code,
    )


def lines_to_bc(
    lines: Sequence[ErpInvoiceLine], currency: str, account_ids: Mapping[str, str]
) -> list[BcSalesDocumentLineCreate]:
    """A new document's lines, for the deep insert that creates it with them: BC creates
    the document whole or not at all."""
    return [sales_line_to_bc(line, currency, account_ids) for line in lines]


def missing_lines(
    present: list[BcSalesDocumentLine] | None, wanted: tuple[ErpInvoiceLine, ...]
) -> list[ErpInvoiceLine]:
    """Requested lines the draft does not have yet, matched by sequence number."""
    sequences = {line.sequence for line in present or ()}
    return [line for line in wanted if line.sequence not in sequences]


def sales_invoice_from_bc(invoice: BcSalesInvoice) -> ErpSalesInvoice:
    """The canonical document; `invoice` must have been read with its lines expanded."""
    if invoice.sales_invoice_lines is None:
        raise ValueError("salesInvoiceLines were not expanded")
    currency = invoice.currency_code
    return ErpSalesInvoice(
        id=invoice.id,
        number=invoice.number or None,
        external_document_number=invoice.external_document_number or None,
        customer_number=invoice.customer_number or None,
        currency=currency,
        posting_date=invoice.invoice_date,
        status=BC_STATUS[invoice.status],
        line_count=len(invoice.sales_invoice_lines),
        total_excluding_tax=from_decimal(invoice.total_amount_excluding_tax, currency),
        total_tax=from_decimal(invoice.total_tax_amount, currency),
        total_including_tax=from_decimal(invoice.total_amount_including_tax, currency),
        remaining_amount=from_decimal(invoice.remaining_amount, currency),
    )


def currency_from_bc(currency: BcCurrency) -> ErpCurrency:
    return ErpCurrency(
        code=currency.code,
        display_name=currency.display_name or None,
        symbol=currency.symbol or None,
    )


def sales_credit_memo_to_bc(memo: ErpSalesCreditMemoCreate) -> BcSalesCreditMemoCreate:
    return BcSalesCreditMemoCreate(
        external_document_number=memo.external_document_number,
        customer_number=memo.customer_number,
        currency_code=memo.currency,
        credit_memo_date=bc_datetime(memo.posting_date),
        due_date=bc_datetime(memo.due_date),
        invoice_id=memo.applies_to_invoice_id,
    )


def sales_credit_memo_with_lines_to_bc(
    memo: ErpSalesCreditMemoCreate, account_ids: Mapping[str, str]
) -> BcSalesCreditMemoDeepCreate:
    lines = lines_to_bc(memo.lines, memo.currency, account_ids)
    return BcSalesCreditMemoDeepCreate(
        **sales_credit_memo_to_bc(memo).model_dump(), sales_credit_memo_lines=lines
    )


def sales_credit_memo_header_changes(
    current: BcSalesCreditMemo, wanted: ErpSalesCreditMemoCreate
) -> BcSalesCreditMemoUpdate | None:
    """The PATCH that moves a draft memo to the requested dates, or `None` when they match."""
    if current.credit_memo_date == wanted.posting_date and current.due_date == wanted.due_date:
        return None
    return BcSalesCreditMemoUpdate(
        credit_memo_date=bc_datetime(wanted.posting_date),
        due_date=bc_datetime(wanted.due_date),
    )


def sales_credit_memo_from_bc(memo: BcSalesCreditMemo) -> ErpSalesCreditMemo:
    """The canonical memo; `memo` must have been read with its lines expanded."""
    if memo.sales_credit_memo_lines is None:
        raise ValueError("salesCreditMemoLines were not expanded")
    currency = memo.currency_code
    return ErpSalesCreditMemo(
        id=memo.id,
        number=memo.number or None,
        external_document_number=memo.external_document_number or None,
        customer_number=memo.customer_number or None,
        currency=currency,
        posting_date=memo.credit_memo_date,
        status=BC_STATUS[memo.status],
        applies_to_invoice_id=_no_empty_id(memo.invoice_id),
        applies_to_invoice_number=memo.invoice_number or None,
        line_count=len(memo.sales_credit_memo_lines),
        total_excluding_tax=from_decimal(memo.total_amount_excluding_tax, currency),
        total_tax=from_decimal(memo.total_tax_amount, currency),
        total_including_tax=from_decimal(memo.total_amount_including_tax, currency),
    )


EMPTY_GUID = "00000000-0000-0000-0000-000000000000"


def _no_empty_id(value: str | None) -> str | None:
    """BC writes an absent reference as the empty GUID."""
    return None if not value or value == EMPTY_GUID else value


def journal_from_bc(journal: BcJournal) -> ErpJournal:
    return ErpJournal(
        id=journal.id,
        code=journal.code,
        display_name=journal.display_name or None,
        balancing_account_number=journal.balancing_account_number or None,
    )


def journal_to_bc(journal: ErpJournalCreate) -> BcJournalCreate:
    return BcJournalCreate(
        code=journal.code,
        display_name=journal.display_name,
        balancing_account_number=journal.balancing_account_number,
    )


def journal_changes(current: BcJournal, wanted: ErpJournalCreate) -> BcJournalUpdate | None:
    """The PATCH that makes `current` match `wanted`, or `None` when they already match."""
    update = BcJournalUpdate(
        display_name=wanted.display_name,
        balancing_account_number=wanted.balancing_account_number or "",
    )
    unchanged = (current.display_name or "") == update.display_name and (
        current.balancing_account_number or ""
    ) == update.balancing_account_number
    return None if unchanged else update


def journal_line_to_bc(line: ErpJournalLine, entry: ErpJournalEntryCreate) -> BcJournalLineCreate:
    return BcJournalLineCreate(
        account_type=GL_ACCOUNT,
        account_number=line.account_number,
        posting_date=bc_datetime(entry.posting_date),
        document_number=entry.document_number,
        external_document_number=entry.external_document_number,
        amount=to_decimal(line.amount, entry.currency),
        description=line.description,
    )


def journal_lines_match(present: list[BcJournalLine], entry: ErpJournalEntryCreate) -> bool:
    """Whether the journal's lines for the document are a prefix of the entry's lines."""
    if len(present) > len(entry.lines):
        return False
    return all(
        journal_line_from_bc(line, entry.currency) == wanted
        for line, wanted in zip(present, entry.lines, strict=False)
    )


def journal_line_changes(
    current: BcJournalLine, entry: ErpJournalEntryCreate
) -> BcJournalLineUpdate | None:
    """The PATCH that moves a pending line to the entry's posting date, if it moved."""
    if current.posting_date == entry.posting_date:
        return None
    return BcJournalLineUpdate(posting_date=bc_datetime(entry.posting_date))


def journal_line_from_bc(line: BcJournalLine, currency: str) -> ErpJournalLine:
    return ErpJournalLine(
        account_number=line.account_number or "",
        amount=from_decimal(line.amount, currency),
        description=line.description or "",
    )


def ledger_entry_from_bc(entry: BcGeneralLedgerEntry, currency: str) -> ErpLedgerEntry:
    return ErpLedgerEntry(
        entry_number=entry.id,
        posting_date=entry.posting_date,
        document_number=entry.document_number or None,
        account_number=entry.account_number or None,
        description=entry.description or None,
        debit=from_decimal(entry.debit_amount, currency),
        credit=from_decimal(entry.credit_amount, currency),
    )


def journal_entry_from_bc(
    journal_id: str,
    document_number: str,
    currency: str,
    *,
    lines: list[BcJournalLine],
    ledger: list[BcGeneralLedgerEntry],
) -> ErpJournalEntry:
    """Posted when the ledger holds entries for the document, a draft otherwise."""
    return ErpJournalEntry(
        journal_id=journal_id,
        document_number=document_number,
        status=ErpDocumentStatus.POSTED if ledger else ErpDocumentStatus.DRAFT,
        currency=currency,
        lines=tuple(journal_line_from_bc(line, currency) for line in lines),
        ledger_entries=tuple(ledger_entry_from_bc(entry, currency) for entry in ledger),
    )


def customer_payment_to_bc(payment: ErpCustomerPaymentCreate) -> BcCustomerPaymentCreate:
    return BcCustomerPaymentCreate(
        customer_number=payment.customer_number,
        posting_date=bc_datetime(payment.posting_date),
        external_document_number=payment.external_document_number,
        amount=to_decimal(payment.amount, payment.currency),
        applies_to_invoice_id=payment.applies_to_invoice_id,
        description=payment.description,
    )


def customer_payment_reversal_to_bc(
    reversal: ErpCustomerPaymentReversal,
) -> BcCustomerPaymentCreate:
    """The reversing journal line: the payment's amount with the opposite sign, applied to
    the same invoice (BC un-applies that much of it, and the invoice owes it again)."""
    return BcCustomerPaymentCreate(
        customer_number=reversal.customer_number,
        posting_date=bc_datetime(reversal.posting_date),
        external_document_number=reversal.external_document_number,
        amount=-to_decimal(reversal.amount, reversal.currency),
        applies_to_invoice_id=reversal.applies_to_invoice_id,
        description=reversal.description,
    )


def customer_payment_from_bc(
    payment: BcCustomerPayment, journal_id: str, currency: str
) -> ErpCustomerPayment:
    return ErpCustomerPayment(
        id=payment.id,
        journal_id=journal_id,
        line_number=payment.line_number,
        document_number=payment.document_number or None,
        external_document_number=payment.external_document_number or None,
        customer_number=payment.customer_number or None,
        posting_date=payment.posting_date,
        currency=currency,
        amount=from_decimal(payment.amount, currency),
        applies_to_invoice_id=_no_empty_id(payment.applies_to_invoice_id),
        applies_to_invoice_number=payment.applies_to_invoice_number or None,
    )
