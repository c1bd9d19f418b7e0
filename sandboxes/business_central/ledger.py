"""Journals and their lines, customer payments and general ledger entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sandboxes.business_central.documents import SalesInvoice
from sandboxes.business_central.master_data import Customer
from sandboxes.business_central.odata import (
    EMPTY_GUID,
    GL_ACCOUNT,
    etag_of,
    utc_now,
    wire_date,
    wire_datetime,
)


@dataclass
class JournalLine:
    id: str
    journal_code: str
    line_number: int
    account_number: str
    account_id: str
    posting_date: date
    document_number: str
    external_document_number: str
    amount: Decimal
    description: str
    version: int = 1
    modified: datetime = field(default_factory=utc_now)

    @property
    def etag(self) -> str:
        return etag_of(self.id, self.version)

    def wire(self) -> dict[str, Any]:
        return {
            "@odata.etag": self.etag,
            "id": self.id,
            "journalDisplayName": self.journal_code,
            "lineNumber": self.line_number,
            "accountType": GL_ACCOUNT,
            "accountId": self.account_id,
            "accountNumber": self.account_number,
            "postingDate": wire_date(self.posting_date),
            "documentNumber": self.document_number,
            "externalDocumentNumber": self.external_document_number,
            "amount": self.amount,
            "description": self.description,
            "comment": "",
            "dimensions": [],
            "lastModifiedDateTime": wire_datetime(self.modified),
        }


@dataclass
class CustomerPayment:
    id: str
    journal_code: str
    line_number: int
    customer: Customer
    posting_date: date
    document_number: str
    external_document_number: str
    amount: Decimal
    invoice: SalesInvoice | None
    description: str
    modified: datetime = field(default_factory=utc_now)

    def wire(self) -> dict[str, Any]:
        return {
            "@odata.etag": etag_of(self.id, 1),
            "id": self.id,
            "journalDisplayName": self.journal_code,
            "lineNumber": self.line_number,
            "customerId": self.customer.id,
            "customerNumber": self.customer.number,
            "contactId": "",
            "postingDate": wire_date(self.posting_date),
            "documentNumber": self.document_number,
            "externalDocumentNumber": self.external_document_number,
            "amount": self.amount,
            "appliesToInvoiceId": self.invoice.id if self.invoice else EMPTY_GUID,
            "appliesToInvoiceNumber": self.invoice.number if self.invoice else "",
            "description": self.description,
            "comment": "",
            "dimensions": [],
            "lastModifiedDateTime": wire_datetime(self.modified),
        }


@dataclass
class Journal:
    """A general journal batch, or a customer payment journal (which holds `payments`)."""

    id: str
    code: str
    display_name: str
    balancing_account_number: str
    balancing_account_id: str
    lines: list[JournalLine] = field(default_factory=list)
    payments: list[CustomerPayment] = field(default_factory=list)
    version: int = 1
    modified: datetime = field(default_factory=utc_now)

    @property
    def etag(self) -> str:
        return etag_of(self.id, self.version)

    def touch(self) -> None:
        self.version += 1
        self.modified = utc_now()

    def wire(self) -> dict[str, Any]:
        return {
            "@odata.etag": self.etag,
            "id": self.id,
            "code": self.code,
            "displayName": self.display_name,
            "lastModifiedDateTime": wire_datetime(self.modified),
            "balancingAccountId": self.balancing_account_id,
            "balancingAccountNumber": self.balancing_account_number,
        }


@dataclass
class GeneralLedgerEntry:
    id: int
    posting_date: date
    document_number: str
    account_number: str
    account_id: str
    description: str
    debit_amount: Decimal
    credit_amount: Decimal
    modified: datetime = field(default_factory=utc_now)

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "postingDate": wire_date(self.posting_date),
            "documentNumber": self.document_number,
            "documentType": "",
            "accountId": self.account_id,
            "accountNumber": self.account_number,
            "description": self.description,
            "debitAmount": self.debit_amount,
            "creditAmount": self.credit_amount,
            "dimensions": [],
            "lastModifiedDateTime": wire_datetime(self.modified),
        }
