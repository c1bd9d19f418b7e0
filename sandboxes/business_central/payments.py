"""Customer payment journals and their payments, applied to invoices as they are created."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandboxes.business_central.api import (
    ApiBase,
    change_journal,
    invoice_customer,
    new_journal,
    posted_invoice,
)
from sandboxes.business_central.books import CompanyBook, settle
from sandboxes.business_central.documents import SalesInvoice
from sandboxes.business_central.journals import JOURNAL_PROPERTIES
from sandboxes.business_central.ledger import CustomerPayment
from sandboxes.business_central.master_data import Customer
from sandboxes.business_central.odata import (
    LINE_NUMBER_STEP,
    ZERO,
    BcFault,
    BodyField,
    Filterable,
    ODataResponse,
    read_body,
    round_amount,
    select_properties,
)

_PAYMENT_FIELDS = {
    "lineNumber": BodyField("int", edm="Edm.Int32"),
    "customerId": BodyField("text", 36),
    "customerNumber": BodyField("text", 20),
    "postingDate": BodyField("date", edm="Edm.Date"),
    "documentNumber": BodyField("text", 20),
    "externalDocumentNumber": BodyField("text", 35),
    "amount": BodyField("number", edm="Edm.Decimal"),
    "appliesToInvoiceId": BodyField("text", 36),
    "appliesToInvoiceNumber": BodyField("text", 20),
    "description": BodyField("text", 100),
}


_PAYMENT_PROPERTIES: Filterable[CustomerPayment] = {
    "lineNumber": lambda p: p.line_number,
    "documentNumber": lambda p: p.document_number,
    "externalDocumentNumber": lambda p: p.external_document_number,
    "postingDate": lambda p: p.posting_date,
}


class PaymentsApi(ApiBase):
    """Customer payment journals and their payments."""

    async def list_payment_journals(self, request: Request) -> Response:
        book = self._book(request)
        journals = select_properties(
            request, "customerPaymentJournal", book.payment_journals.values(), JOURNAL_PROPERTIES
        )
        return ODataResponse({"value": [journal.wire() for journal in journals]})

    async def create_payment_journal(self, request: Request) -> Response:
        book = self._book(request)
        return await new_journal(request, book, book.payment_journals, "customerPaymentJournal")

    async def get_payment_journal(self, request: Request) -> Response:
        _, journal = self._payment_journal(request)
        return ODataResponse(journal.wire())

    async def update_payment_journal(self, request: Request) -> Response:
        book, journal = self._payment_journal(request)
        return await change_journal(
            request, book, book.payment_journals, journal, "customerPaymentJournal"
        )

    async def list_customer_payments(self, request: Request) -> Response:
        _, journal = self._payment_journal(request)
        payments = select_properties(
            request, "customerPayment", journal.payments, _PAYMENT_PROPERTIES
        )
        return ODataResponse({"value": [payment.wire() for payment in payments]})

    async def create_customer_payment(self, request: Request) -> Response:
        """Register the payment and, as the sandbox posts it at once, apply it (a negative
        amount, a reversing line, un-applies it)."""
        book, journal = self._payment_journal(request)
        values = await read_body(request, "customerPayment", _PAYMENT_FIELDS)
        customer = invoice_customer(book, values)
        posting_date = values.get("postingDate") or self._today()
        amount = values.get("amount", ZERO)
        invoice = _paid_invoice(book, values)
        last = max((payment.line_number for payment in journal.payments), default=0)
        line_number = values.get("lineNumber", last + LINE_NUMBER_STEP)
        if any(payment.line_number == line_number for payment in journal.payments):
            raise BcFault(
                400,
                "Internal_EntityWithSameKeyExists",
                "The Gen. Journal Line already exists. Identification fields and values: "
                f"Journal Batch Name='{journal.code}',Line No.='{line_number}'",
            )
        if invoice is not None:
            self._check_open(posting_date)
            _check_payment(book, invoice, customer, amount)
            settle(invoice, amount)
        document_number = values.get("documentNumber") or f"G{book.next_payment_number:05d}"
        book.next_payment_number += 1
        payment = CustomerPayment(
            id=str(uuid.uuid4()),
            journal_code=journal.code,
            line_number=line_number,
            customer=customer,
            posting_date=posting_date,
            document_number=document_number,
            external_document_number=values.get("externalDocumentNumber", ""),
            amount=amount,
            invoice=invoice,
            description=values.get("description", ""),
        )
        journal.payments.append(payment)
        return ODataResponse(payment.wire(), status_code=201)


def _paid_invoice(book: CompanyBook, values: dict[str, Any]) -> SalesInvoice | None:
    return posted_invoice(
        book, values.get("appliesToInvoiceId", ""), values.get("appliesToInvoiceNumber", "")
    )


def _check_payment(
    book: CompanyBook, invoice: SalesInvoice, customer: Customer, amount: Decimal
) -> None:
    """A payment applies at most what the invoice owes; a reversing (negative) line
    un-applies at most what payments applied to it."""
    if invoice.customer is not customer:
        raise BcFault(
            400,
            "Application_DialogException",
            f"Sales invoice {invoice.number} was issued to customer {invoice.customer.number}, "
            f"not {customer.number}.",
        )
    if amount < ZERO:
        applied = sum(
            (
                payment.amount
                for journal in book.payment_journals.values()
                for payment in journal.payments
                if payment.invoice is invoice
            ),
            ZERO,
        )
        if -amount > applied:
            raise BcFault(
                400,
                "Application_DialogException",
                f"A reversal of {round_amount(-amount, invoice.currency_code)} cannot be "
                f"applied to sales invoice {invoice.number}, to which payments applied "
                f"{applied}.",
            )
        return
    if amount == ZERO or amount > invoice.remaining_amount:
        raise BcFault(
            400,
            "Application_DialogException",
            f"A payment of {round_amount(amount, invoice.currency_code)} cannot be applied to "
            f"sales invoice {invoice.number}, which "
            f"still owes {invoice.remaining_amount}.",
        )
