"""Sales invoices, their lines and their post action."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response

from sandboxes.business_central.api import (
    ApiBase,
    check_currency,
    delete_draft,
    invoice_customer,
    nothing_to_post,
    refuse_posted,
)
from sandboxes.business_central.books import add_sales_line
from sandboxes.business_central.documents import SalesInvoice
from sandboxes.business_central.odata import (
    BodyField,
    Filterable,
    ODataResponse,
    check_etag,
    read_body,
    select_properties,
    wants_expand,
)

_INVOICE_CREATE_FIELDS = {
    "externalDocumentNumber": BodyField("text", 35),
    "customerNumber": BodyField("text", 20),
    "customerId": BodyField("text", 36),
    "currencyCode": BodyField("text", 10),
    "invoiceDate": BodyField("date", edm="Edm.Date"),
    "dueDate": BodyField("date", edm="Edm.Date"),
}


_INVOICE_UPDATE_FIELDS = {
    "invoiceDate": BodyField("date", edm="Edm.Date"),
    "dueDate": BodyField("date", edm="Edm.Date"),
}


LINE_FIELDS = {
    "sequence": BodyField("int", edm="Edm.Int32"),
    "lineType": BodyField("text", 20),
    "description": BodyField("text", 100),
    "quantity": BodyField("number", edm="Edm.Decimal"),
    "unitPrice": BodyField("number", edm="Edm.Decimal"),
    "taxCode": BodyField("text", 50),
}


_INVOICE_PROPERTIES: Filterable[SalesInvoice] = {
    "externalDocumentNumber": lambda i: i.external_document_number,
    "number": lambda i: i.number,
    "invoiceDate": lambda i: i.invoice_date,
    "status": lambda i: i.status,
}


class SalesInvoicesApi(ApiBase):
    """Sales invoices and their lines, and their post action."""

    async def list_sales_invoices(self, request: Request) -> Response:
        book = self._book(request)
        expand = wants_expand(request, "salesInvoiceLines")
        invoices = select_properties(
            request, "salesInvoice", book.invoices.values(), _INVOICE_PROPERTIES
        )
        return ODataResponse({"value": [i.wire(expand_lines=expand) for i in invoices]})

    async def create_sales_invoice(self, request: Request) -> Response:
        book = self._book(request)
        values = await read_body(request, "salesInvoice", _INVOICE_CREATE_FIELDS)
        external = values.get("externalDocumentNumber", "")
        if external:
            for existing in book.invoices.values():
                if existing.external_document_number == external:
                    self.state.repeated_creates[external] += 1
                    return ODataResponse(existing.wire(), status_code=201)
        customer = invoice_customer(book, values)
        currency = values.get("currencyCode") or customer.currency_code or book.company.currency
        check_currency(currency, "Sales Header")
        invoice_date = values.get("invoiceDate") or self._today()
        invoice = SalesInvoice(
            id=str(uuid.uuid4()),
            number=f"S-INV{book.next_draft_number}",
            external_document_number=external,
            customer=customer,
            currency_code=currency,
            invoice_date=invoice_date,
            due_date=values.get("dueDate") or invoice_date,
        )
        book.next_draft_number += 1
        book.invoices[invoice.id] = invoice
        return ODataResponse(invoice.wire(), status_code=201)

    async def get_sales_invoice(self, request: Request) -> Response:
        _, invoice = self._invoice(request)
        return ODataResponse(invoice.wire(expand_lines=wants_expand(request, "salesInvoiceLines")))

    async def update_sales_invoice(self, request: Request) -> Response:
        _, invoice = self._invoice(request)
        check_etag(request, invoice.etag)
        values = await read_body(request, "salesInvoice", _INVOICE_UPDATE_FIELDS)
        refuse_posted(invoice)
        invoice.invoice_date = values.get("invoiceDate", invoice.invoice_date)
        invoice.due_date = values.get("dueDate", invoice.due_date)
        invoice.touch()
        return ODataResponse(invoice.wire())

    async def delete_sales_invoice(self, request: Request) -> Response:
        book, invoice = self._invoice(request)
        check_etag(request, invoice.etag)
        return delete_draft(book.invoices, invoice)

    async def list_sales_invoice_lines(self, request: Request) -> Response:
        _, invoice = self._invoice(request)
        return ODataResponse({"value": [line.wire() for line in invoice.lines]})

    async def create_sales_invoice_line(self, request: Request) -> Response:
        book, invoice = self._invoice(request)
        values = await read_body(request, "salesInvoiceLine", LINE_FIELDS)
        refuse_posted(invoice)
        line = add_sales_line(book, invoice, "Invoice", values)
        invoice.touch()
        return ODataResponse(line.wire(), status_code=201)

    async def post_sales_invoice(self, request: Request) -> Response:
        book, invoice = self._invoice(request)
        if invoice.status != "Draft":
            return Response(status_code=204)
        if not invoice.lines:
            raise nothing_to_post()
        self._check_open(invoice.invoice_date)
        invoice.number = f"PS-INV{book.next_posted_number}"
        book.next_posted_number += 1
        invoice.status = "Open"
        invoice.remaining_amount = invoice.total_including_tax
        invoice.touch()
        return Response(status_code=204)
