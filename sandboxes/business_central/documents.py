"""Sales invoices and sales credit memos with their lines, as BC stores and answers them:
one `SalesDocument` base, each kind adding what only it has."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sandboxes.business_central.master_data import Customer
from sandboxes.business_central.odata import (
    EMPTY_GUID,
    ZERO,
    etag_of,
    utc_now,
    wire_date,
    wire_datetime,
)


@dataclass
class SalesInvoiceLine:
    document_id: str
    sequence: int
    line_type: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_code: str
    tax_percent: Decimal
    amount_excluding_tax: Decimal
    total_tax_amount: Decimal
    account_id: str = EMPTY_GUID
    account_number: str = ""  # a line of type `Account` is booked to this G/L account

    @property
    def id(self) -> str:
        return f"{self.document_id}-{self.sequence}"

    @property
    def amount_including_tax(self) -> Decimal:
        return self.amount_excluding_tax + self.total_tax_amount

    def wire(self) -> dict[str, Any]:
        return {
            "@odata.etag": etag_of(self.id, 1),
            "id": self.id,
            "documentId": self.document_id,
            "sequence": self.sequence,
            "lineType": self.line_type,
            "accountId": self.account_id,
            "description": self.description,
            "unitPrice": self.unit_price,
            "quantity": self.quantity,
            "discountAmount": ZERO,
            "discountPercent": ZERO,
            "discountAppliedBeforeTax": False,
            "amountExcludingTax": self.amount_excluding_tax,
            "taxCode": self.tax_code,
            "taxPercent": self.tax_percent,
            "totalTaxAmount": self.total_tax_amount,
            "amountIncludingTax": self.amount_including_tax,
            "netAmount": self.amount_excluding_tax,
            "netTaxAmount": self.total_tax_amount,
            "netAmountIncludingTax": self.amount_including_tax,
        }


@dataclass(frozen=True)
class DocumentKind:
    """What tells one sales document entity set from the other on the wire."""

    entity: str  # `salesInvoice`; its lines are `salesInvoiceLines`
    title: str  # in BC's messages: `Sales invoice`
    date_property: str
    line_document_type: str  # the Sales Line's Document Type, in BC's messages
    draft_prefix: str
    posted_prefix: str

    @property
    def lines_property(self) -> str:
        return f"{self.entity}Lines"


INVOICE = DocumentKind("salesInvoice", "Sales invoice", "invoiceDate", "Invoice", "S-INV", "PS-INV")
CREDIT_MEMO = DocumentKind(
    "salesCreditMemo", "Sales credit memo", "creditMemoDate", "Credit Memo", "S-CR", "PS-CR"
)
# A sales order is never posted: its one number series serves as both prefixes.
ORDER = DocumentKind("salesOrder", "Sales order", "orderDate", "Order", "S-ORD", "S-ORD")


@dataclass(kw_only=True)
class SalesDocument:
    """A sales header with its lines: what invoices and credit memos share."""

    kind: ClassVar[DocumentKind]

    id: str
    number: str
    external_document_number: str
    customer: Customer
    currency_code: str
    document_date: date
    due_date: date
    status: str = "Draft"
    lines: list[SalesInvoiceLine] = field(default_factory=list)
    version: int = 1
    modified: datetime = field(default_factory=utc_now)

    @property
    def etag(self) -> str:
        return etag_of(self.id, self.version)

    @property
    def total_excluding_tax(self) -> Decimal:
        return sum((line.amount_excluding_tax for line in self.lines), ZERO)

    @property
    def total_tax(self) -> Decimal:
        return sum((line.total_tax_amount for line in self.lines), ZERO)

    @property
    def total_including_tax(self) -> Decimal:
        return self.total_excluding_tax + self.total_tax

    def touch(self) -> None:
        self.version += 1
        self.modified = utc_now()

    def wire(self, *, expand_lines: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "@odata.etag": self.etag,
            "id": self.id,
            "number": self.number,
            "externalDocumentNumber": self.external_document_number,
            self.kind.date_property: wire_date(self.document_date),
            "dueDate": wire_date(self.due_date),
            "customerId": self.customer.id,
            "customerNumber": self.customer.number,
            "customerName": self.customer.display_name,
            "billToCustomerId": self.customer.id,
            "billToCustomerNumber": self.customer.number,
            "billToName": self.customer.display_name,
            "currencyCode": self.currency_code,
            "pricesIncludeTax": False,
            **self._balance(),
            "discountAmount": ZERO,
            "discountAppliedBeforeTax": True,
            "totalAmountExcludingTax": self.total_excluding_tax,
            "totalTaxAmount": self.total_tax,
            "totalAmountIncludingTax": self.total_including_tax,
            "status": self.status,
            "lastModifiedDateTime": wire_datetime(self.modified),
            **self._applied_to(),
            "phoneNumber": "",
            "email": self.customer.email,
        }
        if expand_lines:
            body[self.kind.lines_property] = [line.wire() for line in self.lines]
        return body

    def _balance(self) -> dict[str, Any]:
        """The properties on what the document still owes, where it has them."""
        return {}

    def _applied_to(self) -> dict[str, Any]:
        """The properties naming the document it applies to, where it has them."""
        return {}


@dataclass(kw_only=True)
class SalesInvoice(SalesDocument):
    kind: ClassVar[DocumentKind] = INVOICE

    remaining_amount: Decimal = ZERO

    def _balance(self) -> dict[str, Any]:
        return {"remainingAmount": self.remaining_amount}


@dataclass(kw_only=True)
class SalesCreditMemo(SalesDocument):
    kind: ClassVar[DocumentKind] = CREDIT_MEMO

    invoice: SalesInvoice | None = None

    def _applied_to(self) -> dict[str, Any]:
        return {
            "invoiceId": self.invoice.id if self.invoice else EMPTY_GUID,
            "invoiceNumber": self.invoice.number if self.invoice else "",
        }


@dataclass(kw_only=True)
class SalesOrder(SalesDocument):
    """An order taken for a customer; `item_ids` names each line's item by sequence."""

    kind: ClassVar[DocumentKind] = ORDER

    requested_delivery_date: date | None = None
    fully_shipped: bool = False
    item_ids: dict[int, str] = field(default_factory=dict)

    def wire(self, *, expand_lines: bool = False) -> dict[str, Any]:
        body = super().wire(expand_lines=expand_lines)
        for unused in ("dueDate", "pricesIncludeTax"):
            body.pop(unused, None)
        delivery = self.requested_delivery_date
        body["requestedDeliveryDate"] = None if delivery is None else wire_date(delivery)
        body["fullyShipped"] = self.fully_shipped
        body["partialShipping"] = False
        for line in body.get(ORDER.lines_property, []):
            line["itemId"] = self.item_ids.get(line["sequence"])
        return body
