"""Sales credit memos, their lines and their post action, applied to the invoice they credit."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandboxes.business_central.api import (
    ApiBase,
    check_currency,
    delete_draft,
    invoice_customer,
    nothing_to_post,
    posted_invoice,
    refuse_posted,
)
from sandboxes.business_central.books import CompanyBook, add_sales_line, settle
from sandboxes.business_central.documents import SalesCreditMemo, SalesInvoice
from sandboxes.business_central.master_data import Customer
from sandboxes.business_central.odata import (
    BcFault,
    BodyField,
    Filterable,
    ODataResponse,
    check_etag,
    read_body,
    select_properties,
    wants_expand,
)
from sandboxes.business_central.sales_invoices import LINE_FIELDS

_MEMO_CREATE_FIELDS = {
    "externalDocumentNumber": BodyField("text", 35),
    "customerNumber": BodyField("text", 20),
    "customerId": BodyField("text", 36),
    "currencyCode": BodyField("text", 10),
    "creditMemoDate": BodyField("date", edm="Edm.Date"),
    "dueDate": BodyField("date", edm="Edm.Date"),
    "invoiceId": BodyField("text", 36),
    "invoiceNumber": BodyField("text", 20),
}


_MEMO_UPDATE_FIELDS = {
    "creditMemoDate": BodyField("date", edm="Edm.Date"),
    "dueDate": BodyField("date", edm="Edm.Date"),
}


_MEMO_PROPERTIES: Filterable[SalesCreditMemo] = {
    "externalDocumentNumber": lambda m: m.external_document_number,
    "number": lambda m: m.number,
    "creditMemoDate": lambda m: m.credit_memo_date,
    "status": lambda m: m.status,
}


class CreditMemosApi(ApiBase):
    """Sales credit memos and their lines, and their post action."""

    async def list_sales_credit_memos(self, request: Request) -> Response:
        book = self._book(request)
        expand = wants_expand(request, "salesCreditMemoLines")
        memos = select_properties(
            request, "salesCreditMemo", book.credit_memos.values(), _MEMO_PROPERTIES
        )
        return ODataResponse({"value": [m.wire(expand_lines=expand) for m in memos]})

    async def create_sales_credit_memo(self, request: Request) -> Response:
        book = self._book(request)
        values = await read_body(request, "salesCreditMemo", _MEMO_CREATE_FIELDS)
        external = values.get("externalDocumentNumber", "")
        if external:
            for existing in book.credit_memos.values():
                if existing.external_document_number == external:
                    self.state.repeated_creates[external] += 1
                    return ODataResponse(existing.wire(), status_code=201)
        customer = invoice_customer(book, values)
        currency = values.get("currencyCode") or customer.currency_code or book.company.currency
        check_currency(currency, "Sales Header")
        memo_date = values.get("creditMemoDate") or self._today()
        memo = SalesCreditMemo(
            id=str(uuid.uuid4()),
            number=f"S-CR{book.next_memo_draft_number}",
            external_document_number=external,
            customer=customer,
            currency_code=currency,
            credit_memo_date=memo_date,
            due_date=values.get("dueDate") or memo_date,
            invoice=_corrected_invoice(book, values, customer, currency),
        )
        book.next_memo_draft_number += 1
        book.credit_memos[memo.id] = memo
        return ODataResponse(memo.wire(), status_code=201)

    async def get_sales_credit_memo(self, request: Request) -> Response:
        _, memo = self._credit_memo(request)
        return ODataResponse(memo.wire(expand_lines=wants_expand(request, "salesCreditMemoLines")))

    async def update_sales_credit_memo(self, request: Request) -> Response:
        _, memo = self._credit_memo(request)
        check_etag(request, memo.etag)
        values = await read_body(request, "salesCreditMemo", _MEMO_UPDATE_FIELDS)
        refuse_posted(memo)
        memo.credit_memo_date = values.get("creditMemoDate", memo.credit_memo_date)
        memo.due_date = values.get("dueDate", memo.due_date)
        memo.touch()
        return ODataResponse(memo.wire())

    async def delete_sales_credit_memo(self, request: Request) -> Response:
        book, memo = self._credit_memo(request)
        check_etag(request, memo.etag)
        return delete_draft(book.credit_memos, memo)

    async def list_sales_credit_memo_lines(self, request: Request) -> Response:
        _, memo = self._credit_memo(request)
        return ODataResponse({"value": [line.wire() for line in memo.lines]})

    async def create_sales_credit_memo_line(self, request: Request) -> Response:
        book, memo = self._credit_memo(request)
        values = await read_body(request, "salesCreditMemoLine", LINE_FIELDS)
        refuse_posted(memo)
        line = add_sales_line(book, memo, "Credit Memo", values)
        memo.touch()
        return ODataResponse(line.wire(), status_code=201)

    async def post_sales_credit_memo(self, request: Request) -> Response:
        """Post the memo; one that corrects an invoice is applied to it in the same step."""
        book, memo = self._credit_memo(request)
        if memo.status != "Draft":
            return Response(status_code=204)
        if not memo.lines:
            raise nothing_to_post()
        self._check_open(memo.credit_memo_date)
        invoice, total = memo.invoice, memo.total_including_tax
        if invoice is not None and total > invoice.remaining_amount:
            raise BcFault(
                400,
                "Application_DialogException",
                f"The credit memo total {total} is more than the remaining amount "
                f"{invoice.remaining_amount} of sales invoice {invoice.number}.",
            )
        memo.number = f"PS-CR{book.next_memo_posted_number}"
        book.next_memo_posted_number += 1
        memo.status = "Open"
        if invoice is not None:
            settle(invoice, total)
            memo.status = "Paid"
        memo.touch()
        return Response(status_code=204)


def _corrected_invoice(
    book: CompanyBook, values: dict[str, Any], customer: Customer, currency: str
) -> SalesInvoice | None:
    invoice = posted_invoice(book, values.get("invoiceId", ""), values.get("invoiceNumber", ""))
    if invoice is None:
        return None
    if invoice.customer is not customer or invoice.currency_code != currency:
        raise BcFault(
            400,
            "Application_DialogException",
            f"Sales invoice {invoice.number} was issued to customer {invoice.customer.number} "
            f"in {invoice.currency_code}; the credit memo is for customer {customer.number} in "
            f"{currency}.",
        )
    return invoice
