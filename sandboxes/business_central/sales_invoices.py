"""Sales invoices, their lines and their post action."""

from __future__ import annotations

from typing import Any

from sandboxes.business_central.books import CompanyBook
from sandboxes.business_central.documents import INVOICE, SalesInvoice
from sandboxes.business_central.indexed import Documents
from sandboxes.business_central.sales_documents import SalesDocumentsApi


class SalesInvoicesApi(SalesDocumentsApi[SalesInvoice]):
    """Sales invoices: posting numbers them and leaves their total to be paid."""

    kind = INVOICE
    path_parameter = "invoice_id"

    def _documents(self, book: CompanyBook) -> Documents[SalesInvoice]:
        return book.invoices

    def _new(self, **header: Any) -> SalesInvoice:
        return SalesInvoice(**header)

    def _post(self, book: CompanyBook, document: SalesInvoice) -> None:
        document.number = book.next_document_number(INVOICE.posted_prefix)
        document.status = "Open"
        document.remaining_amount = document.total_including_tax
        book.post_document_entries(document, -1)
