"""The handlers every sales document entity set shares: list, create (once per external
document number), get, change the dates under `If-Match`, delete a draft, add and list
lines, post."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, ClassVar, Generic, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from sandboxes.business_central.api import (
    ApiBase,
    check_currency,
    invoice_customer,
    nothing_to_post,
    refuse_posted,
)
from sandboxes.business_central.books import CompanyBook, add_sales_line
from sandboxes.business_central.documents import DocumentKind, SalesDocument
from sandboxes.business_central.indexed import Documents
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

Document = TypeVar("Document", bound=SalesDocument)

HEADER_FIELDS = {
    "externalDocumentNumber": BodyField("text", 35),
    "customerNumber": BodyField("text", 20),
    "customerId": BodyField("text", 36),
    "currencyCode": BodyField("text", 10),
}

LINE_FIELDS = {
    "sequence": BodyField("int", edm="Edm.Int32"),
    "lineType": BodyField("text", 20),
    "accountId": BodyField("text", 36),
    "description": BodyField("text", 100),
    "quantity": BodyField("number", edm="Edm.Decimal"),
    "unitPrice": BodyField("number", edm="Edm.Decimal"),
    "taxCode": BodyField("text", 50),
}


class SalesDocumentsApi(ApiBase, Generic[Document]):
    """One sales document entity set; a subclass names its kind and what only it does."""

    kind: ClassVar[DocumentKind]
    path_parameter: ClassVar[str]
    extra_create_fields: ClassVar[dict[str, BodyField]] = {}

    def _documents(self, book: CompanyBook) -> Documents[Document]:
        raise NotImplementedError

    def _new(self, **header: Any) -> Document:
        """A draft of this kind with the `header` (id, number, customer, currency, dates)."""
        raise NotImplementedError

    def _own_header(
        self, _book: CompanyBook, _values: dict[str, Any], _customer: Customer, _currency: str
    ) -> dict[str, Any]:
        """The header fields only this kind has, read from the body and checked."""
        return {}

    def _post(self, book: CompanyBook, document: Document) -> None:
        """What posting a draft with lines, in an open period, does to it and its book."""
        raise NotImplementedError

    async def list(self, request: Request) -> Response:
        book = self._book(request)
        expand = wants_expand(request, self.kind.lines_property)
        properties: Filterable[Document] = {
            "externalDocumentNumber": lambda d: d.external_document_number,
            "number": lambda d: d.number,
            self.kind.date_property: lambda d: d.document_date,
            "status": lambda d: d.status,
        }
        documents = self._documents(book)
        found = select_properties(
            request,
            self.kind.entity,
            documents.values(),
            properties,
            keyed=("externalDocumentNumber", documents.with_external),
        )
        return ODataResponse({"value": [d.wire(expand_lines=expand) for d in found]})

    async def create(self, request: Request) -> Response:
        """A draft; an external document number seen before answers that document again.

        A deep insert (the lines in the body's `salesInvoiceLines`) creates the document
        with its lines in one request, or nothing when a line is refused."""
        book = self._book(request)
        fields = {**HEADER_FIELDS, **self._date_fields(), **self.extra_create_fields}
        lines = self.kind.lines_property
        values = await read_body(
            request,
            self.kind.entity,
            fields,
            nested={lines: (f"{self.kind.entity}Line", LINE_FIELDS)},
        )
        external = values.get("externalDocumentNumber", "")
        for existing in self._documents(book).with_external([external]) if external else ():
            self.state.repeated_creates[external] += 1
            return ODataResponse(existing.wire(), status_code=201)
        customer: Customer = invoice_customer(book, values)
        currency = values.get("currencyCode") or customer.currency_code or book.company.currency
        check_currency(currency, "Sales Header")
        own = self._own_header(book, values, customer, currency)
        document_date: date = values.get(self.kind.date_property) or self._today()
        document = self._new(
            id=str(uuid.uuid4()),
            number=book.next_document_number(self.kind.draft_prefix),
            external_document_number=external,
            customer=customer,
            currency_code=currency,
            document_date=document_date,
            due_date=values.get("dueDate") or document_date,
            **own,
        )
        for line in values.get(lines, ()):
            add_sales_line(book, document, line)
        self._documents(book)[document.id] = document
        return ODataResponse(document.wire(expand_lines=lines in values), status_code=201)

    async def get(self, request: Request) -> Response:
        _, document = self._document(request)
        expand = wants_expand(request, self.kind.lines_property)
        return ODataResponse(document.wire(expand_lines=expand))

    async def update(self, request: Request) -> Response:
        _, document = self._document(request)
        check_etag(request, document.etag)
        values = await read_body(request, self.kind.entity, self._date_fields())
        refuse_posted(document)
        document.document_date = values.get(self.kind.date_property, document.document_date)
        document.due_date = values.get("dueDate", document.due_date)
        document.touch()
        return ODataResponse(document.wire())

    async def delete(self, request: Request) -> Response:
        """`DELETE`: a draft goes (it is no accounting document); a posted one stays,
        refused as BC refuses it."""
        book, document = self._document(request)
        check_etag(request, document.etag)
        if document.status != "Draft":
            raise BcFault(
                400,
                "Application_DialogException",
                f"{self.kind.title} {document.number} has been posted and cannot be deleted. "
                "Correct it with a credit memo or a reversing entry.",
            )
        del self._documents(book)[document.id]
        return Response(status_code=204)

    async def list_lines(self, request: Request) -> Response:
        _, document = self._document(request)
        return ODataResponse({"value": [line.wire() for line in document.lines]})

    async def create_line(self, request: Request) -> Response:
        book, document = self._document(request)
        values = await read_body(request, f"{self.kind.entity}Line", LINE_FIELDS)
        refuse_posted(document)
        line = add_sales_line(book, document, values)
        document.touch()
        return ODataResponse(line.wire(), status_code=201)

    async def post(self, request: Request) -> Response:
        """`Microsoft.NAV.post`: a posted document is left as it is."""
        book, document = self._document(request)
        if document.status != "Draft":
            return Response(status_code=204)
        if not document.lines:
            raise nothing_to_post()
        self._check_open(document.document_date)
        self._post(book, document)
        document.touch()
        return Response(status_code=204)

    def _date_fields(self) -> dict[str, BodyField]:
        date_field = BodyField("date", edm="Edm.Date")
        return {self.kind.date_property: date_field, "dueDate": date_field}

    def _document(self, request: Request) -> tuple[CompanyBook, Document]:
        book = self._book(request)
        document_id = request.path_params[self.path_parameter].lower()
        document = self._documents(book).get(document_id)
        if document is None:
            raise BcFault(
                404,
                "Internal_RecordNotFound",
                "The Sales Header does not exist. Identification fields and values: "
                f"Id='{document_id}'",
            )
        return book, document
