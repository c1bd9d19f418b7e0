"""General journals, their lines and post action, and the general ledger entries they write."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from starlette.requests import Request
from starlette.responses import Response

from sandboxes.business_central.api import (
    ApiBase,
    change_journal,
    check_account,
    new_journal,
    nothing_to_post,
)
from sandboxes.business_central.ledger import GeneralLedgerEntry, Journal, JournalLine
from sandboxes.business_central.odata import (
    GL_ACCOUNT,
    LINE_NUMBER_STEP,
    ZERO,
    BcFault,
    BodyField,
    Filterable,
    ODataResponse,
    check_etag,
    read_body,
    round_amount,
    select_properties,
    utc_now,
)

_JOURNAL_LINE_UPDATE_FIELDS = {
    "accountNumber": BodyField("text", 20),
    "postingDate": BodyField("date", edm="Edm.Date"),
    "documentNumber": BodyField("text", 20),
    "externalDocumentNumber": BodyField("text", 35),
    "amount": BodyField("number", edm="Edm.Decimal"),
    "description": BodyField("text", 100),
}


_JOURNAL_LINE_FIELDS = {
    "lineNumber": BodyField("int", edm="Edm.Int32"),
    "accountType": BodyField("text", 30),
    **_JOURNAL_LINE_UPDATE_FIELDS,
}


JOURNAL_PROPERTIES: Filterable[Journal] = {"code": lambda j: j.code}


_JOURNAL_LINE_PROPERTIES: Filterable[JournalLine] = {
    "lineNumber": lambda line: line.line_number,
    "documentNumber": lambda line: line.document_number,
    "externalDocumentNumber": lambda line: line.external_document_number,
    "postingDate": lambda line: line.posting_date,
}


_LEDGER_PROPERTIES: Filterable[GeneralLedgerEntry] = {
    "documentNumber": lambda e: e.document_number,
    "accountNumber": lambda e: e.account_number,
    "postingDate": lambda e: e.posting_date,
}


class JournalsApi(ApiBase):
    """General journals, their lines and post action, and the general ledger entries."""

    async def list_journals(self, request: Request) -> Response:
        book = self._book(request)
        journals = select_properties(request, "journal", book.journals.values(), JOURNAL_PROPERTIES)
        return ODataResponse({"value": [journal.wire() for journal in journals]})

    async def create_journal(self, request: Request) -> Response:
        book = self._book(request)
        return await new_journal(request, book, book.journals, "journal")

    async def get_journal(self, request: Request) -> Response:
        _, journal = self._journal(request)
        return ODataResponse(journal.wire())

    async def update_journal(self, request: Request) -> Response:
        book, journal = self._journal(request)
        return await change_journal(request, book, book.journals, journal, "journal")

    async def list_journal_lines(self, request: Request) -> Response:
        _, journal = self._journal(request)
        lines = select_properties(request, "journalLine", journal.lines, _JOURNAL_LINE_PROPERTIES)
        return ODataResponse({"value": [line.wire() for line in lines]})

    async def create_journal_line(self, request: Request) -> Response:
        book, journal = self._journal(request)
        values = await read_body(request, "journalLine", _JOURNAL_LINE_FIELDS)
        account_type = values.get("accountType", GL_ACCOUNT)
        if account_type != GL_ACCOUNT:
            raise BcFault(
                400, "BadRequest", f"The sandbox only keeps '{GL_ACCOUNT}' lines: {account_type}"
            )
        account = values.get("accountNumber", "")
        check_account(account, "Gen. Journal Line", required=True)
        last = max((line.line_number for line in journal.lines), default=0)
        line_number = values.get("lineNumber", last + LINE_NUMBER_STEP)
        if any(line.line_number == line_number for line in journal.lines):
            raise BcFault(
                400,
                "Internal_EntityWithSameKeyExists",
                "The Gen. Journal Line already exists. Identification fields and values: "
                f"Journal Batch Name='{journal.code}',Line No.='{line_number}'",
            )
        line = JournalLine(
            id=str(uuid.uuid4()),
            journal_code=journal.code,
            line_number=line_number,
            account_number=account,
            account_id=book.account_id(account),
            posting_date=values.get("postingDate") or self._today(),
            document_number=values.get("documentNumber", ""),
            external_document_number=values.get("externalDocumentNumber", ""),
            amount=values.get("amount", ZERO),
            description=values.get("description", ""),
        )
        journal.lines.append(line)
        journal.lines.sort(key=lambda item: item.line_number)
        return ODataResponse(line.wire(), status_code=201)

    async def update_journal_line(self, request: Request) -> Response:
        book, journal = self._journal(request)
        line_id = request.path_params["line_id"].lower()
        line = next((item for item in journal.lines if item.id == line_id), None)
        if line is None:
            raise BcFault(
                404,
                "Internal_RecordNotFound",
                "The Gen. Journal Line does not exist. Identification fields and values: "
                f"Id='{line_id}'",
            )
        check_etag(request, line.etag)
        values = await read_body(request, "journalLine", _JOURNAL_LINE_UPDATE_FIELDS)
        if "accountNumber" in values:
            check_account(values["accountNumber"], "Gen. Journal Line", required=True)
            line.account_number = values["accountNumber"]
            line.account_id = book.account_id(line.account_number)
        line.posting_date = values.get("postingDate", line.posting_date)
        line.document_number = values.get("documentNumber", line.document_number)
        line.external_document_number = values.get(
            "externalDocumentNumber", line.external_document_number
        )
        line.amount = values.get("amount", line.amount)
        line.description = values.get("description", line.description)
        line.version += 1
        line.modified = utc_now()
        return ODataResponse(line.wire())

    async def post_journal(self, request: Request) -> Response:
        """Write the journal's lines to the ledger, balanced, and empty the journal."""
        book, journal = self._journal(request)
        if not journal.lines:
            raise nothing_to_post()
        for line in journal.lines:
            self._check_open(line.posting_date)
        balancing = journal.balancing_account_number
        if not balancing:
            totals: dict[tuple[str, date], Decimal] = {}
            for line in journal.lines:
                key = (line.document_number, line.posting_date)
                totals[key] = totals.get(key, ZERO) + line.amount
            for (document, _day), total in totals.items():
                if total != ZERO:
                    shown = round_amount(total, book.company.currency)
                    raise BcFault(
                        400,
                        "Application_DialogException",
                        f"Document No. {document} is out of balance by {shown}. Please check "
                        "that Posting Date, Document Type, Document No. and Amount are correct "
                        "for each line.",
                    )
        for line in journal.lines:
            book.post_entry(line, line.account_number, line.amount)
            if balancing:
                book.post_entry(line, balancing, -line.amount)
        journal.lines.clear()
        journal.touch()
        return Response(status_code=204)

    async def list_ledger_entries(self, request: Request) -> Response:
        book = self._book(request)
        entries = select_properties(request, "generalLedgerEntry", book.ledger, _LEDGER_PROPERTIES)
        return ODataResponse({"value": [entry.wire() for entry in entries]})
