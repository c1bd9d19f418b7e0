"""The request handlers' shared lookups and rules, and the company-level resources."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core.currencies import is_known_currency
from sandboxes.business_central.books import BusinessCentralState, CompanyBook
from sandboxes.business_central.documents import SalesCreditMemo, SalesInvoice
from sandboxes.business_central.ledger import Journal
from sandboxes.business_central.master_data import Customer
from sandboxes.business_central.odata import (
    CHART_OF_ACCOUNTS,
    CURRENCIES,
    EMPTY_GUID,
    BcFault,
    BodyField,
    Filterable,
    ODataResponse,
    check_etag,
    read_body,
    select_properties,
)

_JOURNAL_FIELDS = {
    "code": BodyField("text", 10),
    "displayName": BodyField("text", 100),
    "balancingAccountNumber": BodyField("text", 20),
}


_CURRENCY_PROPERTIES: Filterable[str] = {"code": lambda code: code}


class ApiBase:
    """The request handlers' shared lookups and rules, bound to one `BusinessCentralState`."""

    def __init__(self, state: BusinessCentralState) -> None:
        self.state = state

    async def repeated_creates(self, _request: Request) -> Response:
        """Sandbox only: external document numbers created again, with how often."""
        return JSONResponse(dict(self.state.repeated_creates))

    def _book(self, request: Request) -> CompanyBook:
        company_id = request.path_params["company_id"].lower()
        book = self.state.books.get(company_id)
        if book is None:
            raise BcFault(
                404,
                "Internal_CompanyNotFound",
                f"Cannot process the request because the company '{company_id}' cannot be found.",
            )
        return book

    def _customer(self, book: CompanyBook, customer_id: str) -> Customer:
        customer = book.customers.get(customer_id.lower())
        if customer is None:
            raise BcFault(
                404,
                "Internal_RecordNotFound",
                "The Customer does not exist. Identification fields and values: "
                f"Id='{customer_id}'",
            )
        return customer

    def _invoice(self, request: Request) -> tuple[CompanyBook, SalesInvoice]:
        book = self._book(request)
        invoice_id = request.path_params["invoice_id"].lower()
        invoice = book.invoices.get(invoice_id)
        if invoice is None:
            raise BcFault(
                404,
                "Internal_RecordNotFound",
                "The Sales Header does not exist. Identification fields and values: "
                f"Id='{invoice_id}'",
            )
        return book, invoice

    def _today(self) -> date:
        return self.state.today or date.today()

    def _check_open(self, posting_date: date) -> None:
        if posting_date < self.state.first_open_day():
            raise BcFault(
                400,
                "Application_DialogException",
                "Posting Date is not within your range of allowed posting dates.",
            )

    def _credit_memo(self, request: Request) -> tuple[CompanyBook, SalesCreditMemo]:
        book = self._book(request)
        memo_id = request.path_params["memo_id"].lower()
        memo = book.credit_memos.get(memo_id)
        if memo is None:
            raise BcFault(
                404,
                "Internal_RecordNotFound",
                "The Sales Header does not exist. Identification fields and values: "
                f"Id='{memo_id}'",
            )
        return book, memo

    def _journal_in(self, request: Request, journals: dict[str, Journal]) -> Journal:
        journal_id = request.path_params["journal_id"].lower()
        journal = journals.get(journal_id)
        if journal is None:
            raise BcFault(
                404,
                "Internal_RecordNotFound",
                "The Gen. Journal Batch does not exist. Identification fields and values: "
                f"Id='{journal_id}'",
            )
        return journal

    def _journal(self, request: Request) -> tuple[CompanyBook, Journal]:
        book = self._book(request)
        return book, self._journal_in(request, book.journals)

    def _payment_journal(self, request: Request) -> tuple[CompanyBook, Journal]:
        book = self._book(request)
        return book, self._journal_in(request, book.payment_journals)


class CompaniesApi(ApiBase):
    """Companies, their tax groups and currencies."""

    async def list_companies(self, _request: Request) -> Response:
        return ODataResponse({"value": [book.wire() for book in self.state.books.values()]})

    async def get_company(self, request: Request) -> Response:
        return ODataResponse(self._book(request).wire())

    async def list_tax_groups(self, request: Request) -> Response:
        book = self._book(request)
        return ODataResponse({"value": [group.wire() for group in book.tax_groups.values()]})

    async def list_currencies(self, request: Request) -> Response:
        book = self._book(request)
        codes = select_properties(request, "currency", CURRENCIES, _CURRENCY_PROPERTIES)
        return ODataResponse({"value": [book.currency_wire(code) for code in codes]})


def check_currency(code: str, table: str) -> None:
    if code and not is_known_currency(code):
        raise BcFault(
            400,
            "Internal_InvalidTableRelation",
            f"The field Currency Code of table {table} contains a value ({code}) that cannot "
            "be found in the related table (Currency).",
        )


def invoice_customer(book: CompanyBook, values: dict[str, Any]) -> Customer:
    if customer_id := values.get("customerId"):
        customer = book.customers.get(customer_id.lower())
        key = f"Id='{customer_id}'"
    elif number := values.get("customerNumber"):
        customer = next((c for c in book.customers.values() if c.number == number), None)
        key = f"No.='{number}'"
    else:
        raise BcFault(
            400, "Application_DialogException", "A customerNumber or a customerID must be provided."
        )
    if customer is None:
        raise BcFault(
            400,
            "Internal_RecordNotFound",
            f"The Customer does not exist. Identification fields and values: {key}",
        )
    return customer


def nothing_to_post() -> BcFault:
    return BcFault(400, "Application_DialogException", "There is nothing to post.")


def check_account(number: str, table: str, *, required: bool) -> None:
    if not number:
        if required:
            raise BcFault(
                400, "Application_DialogException", f"Account No. must have a value in {table}."
            )
        return
    if number not in CHART_OF_ACCOUNTS:
        raise BcFault(
            400,
            "Internal_InvalidTableRelation",
            f"The field Account No. of table {table} contains a value ({number}) that cannot "
            "be found in the related table (G/L Account).",
        )


def posted_invoice(book: CompanyBook, invoice_id: str, number: str) -> SalesInvoice | None:
    """The posted invoice an id or a number names; `None` when neither is given."""
    if invoice_id and invoice_id != EMPTY_GUID:
        invoice = book.invoices.get(invoice_id.lower())
        key = f"Id='{invoice_id}'"
    elif number:
        invoice = next((i for i in book.invoices.values() if i.number == number), None)
        key = f"No.='{number}'"
    else:
        return None
    if invoice is None or invoice.status == "Draft":
        raise BcFault(
            400,
            "Internal_RecordNotFound",
            f"The Sales Invoice Header does not exist. Identification fields and values: {key}",
        )
    return invoice


async def new_journal(
    request: Request, book: CompanyBook, journals: dict[str, Journal], entity: str
) -> Response:
    values = await read_body(request, entity, _JOURNAL_FIELDS)
    code = values.get("code", "")
    if not code:
        raise BcFault(400, "Application_DialogException", "Name must have a value.")
    if any(journal.code == code for journal in journals.values()):
        raise BcFault(
            400,
            "Internal_EntityWithSameKeyExists",
            f"The Gen. Journal Batch already exists. Identification fields and values: "
            f"Name='{code}'",
        )
    balancing = values.get("balancingAccountNumber", "")
    check_account(balancing, "Gen. Journal Batch", required=False)
    journal = Journal(
        id=str(uuid.uuid4()),
        code=code,
        display_name=values.get("displayName", code),
        balancing_account_number=balancing,
        balancing_account_id=book.account_id(balancing),
    )
    journals[journal.id] = journal
    return ODataResponse(journal.wire(), status_code=201)


async def change_journal(
    request: Request,
    book: CompanyBook,
    journals: dict[str, Journal],
    journal: Journal,
    entity: str,
) -> Response:
    check_etag(request, journal.etag)
    values = await read_body(request, entity, _JOURNAL_FIELDS)
    code = values.get("code", journal.code)
    if code != journal.code and any(other.code == code for other in journals.values()):
        raise BcFault(
            400,
            "Internal_EntityWithSameKeyExists",
            f"The Gen. Journal Batch already exists. Identification fields and values: "
            f"Name='{code}'",
        )
    balancing = values.get("balancingAccountNumber", journal.balancing_account_number)
    check_account(balancing, "Gen. Journal Batch", required=False)
    journal.code = code
    journal.display_name = values.get("displayName", journal.display_name)
    journal.balancing_account_number = balancing
    journal.balancing_account_id = book.account_id(balancing)
    journal.touch()
    return ODataResponse(journal.wire())


def refuse_posted(document: SalesInvoice | SalesCreditMemo) -> None:
    if document.status != "Draft":
        kind = "Sales invoice" if isinstance(document, SalesInvoice) else "Sales credit memo"
        raise BcFault(
            400,
            "Application_DialogException",
            f"{kind} {document.number} has been posted and can no longer be changed.",
        )


def delete_draft(documents: dict[str, Any], document: SalesInvoice | SalesCreditMemo) -> Response:
    """`DELETE` a sales document: a draft goes (it is no accounting document); a posted one
    stays, refused as BC refuses it."""
    if document.status != "Draft":
        kind = "Sales invoice" if isinstance(document, SalesInvoice) else "Sales credit memo"
        raise BcFault(
            400,
            "Application_DialogException",
            f"{kind} {document.number} has been posted and cannot be deleted. "
            "Correct it with a credit memo or a reversing entry.",
        )
    del documents[document.id]
    return Response(status_code=204)
