"""Sales credit memos, their lines and their post action, applied to the invoice they credit."""

from __future__ import annotations

from typing import Any

from sandboxes.business_central.api import posted_invoice
from sandboxes.business_central.books import CompanyBook, settle
from sandboxes.business_central.documents import CREDIT_MEMO, SalesCreditMemo
from sandboxes.business_central.indexed import Documents
from sandboxes.business_central.master_data import Customer
from sandboxes.business_central.odata import BcFault, BodyField
from sandboxes.business_central.sales_documents import SalesDocumentsApi


class CreditMemosApi(SalesDocumentsApi[SalesCreditMemo]):
    """Sales credit memos: one that corrects an invoice is applied to it when posted."""

    kind = CREDIT_MEMO
    path_parameter = "memo_id"
    extra_create_fields = {
        "invoiceId": BodyField("text", 36),
        "invoiceNumber": BodyField("text", 20),
    }

    def _documents(self, book: CompanyBook) -> Documents[SalesCreditMemo]:
        return book.credit_memos

    def _new(self, **header: Any) -> SalesCreditMemo:
        return SalesCreditMemo(**header)

    def _own_header(
        self, book: CompanyBook, values: dict[str, Any], customer: Customer, currency: str
    ) -> dict[str, Any]:
        """The posted invoice it corrects, issued to the same customer in the same currency."""
        invoice = posted_invoice(book, values.get("invoiceId", ""), values.get("invoiceNumber", ""))
        if invoice is not None and (
            invoice.customer is not customer or invoice.currency_code != currency
        ):
            raise BcFault(
                400,
                "Application_DialogException",
                f"Sales invoice {invoice.number} was issued to customer "
                f"{invoice.customer.number} in {invoice.currency_code}; the credit memo is for "
                f"customer {customer.number} in {currency}.",
            )
        return {"invoice": invoice}

    def _post(self, book: CompanyBook, document: SalesCreditMemo) -> None:
        invoice, total = document.invoice, document.total_including_tax
        if invoice is not None and total > invoice.remaining_amount:
            raise BcFault(
                400,
                "Application_DialogException",
                f"The credit memo total {total} is more than the remaining amount "
                f"{invoice.remaining_amount} of sales invoice {invoice.number}.",
            )
        document.number = book.next_document_number(CREDIT_MEMO.posted_prefix)
        document.status = "Open"
        book.post_document_entries(document, 1)
        if invoice is not None:
            settle(invoice, total)
            document.status = "Paid"
