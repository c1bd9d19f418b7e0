"""Invoice records: list, create with their item sublist, read, update, approve."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandboxes.business_central.odata import round_amount
from sandboxes.netsuite.api import ApiBase
from sandboxes.netsuite.records import InvoiceLine, InvoiceRecord
from sandboxes.netsuite.wire import (
    APPROVAL_NAMES,
    APPROVED,
    CURRENCIES,
    PENDING_APPROVAL,
    SERVICE_ITEM_ID,
    NsFault,
    NsResponse,
    created,
    date_value,
    invalid_ref,
    links_of,
    meets,
    number_value,
    query_conditions,
    read_body,
    ref_id,
    ref_of,
    text_value,
    utc_now,
)


class InvoicesApi(ApiBase):
    """Invoice records: list, create with their item sublist, read, update, approve."""

    async def list_invoices(self, request: Request) -> Response:
        conditions = query_conditions(
            request,
            frozenset({"externalId", "tranId", "tranDate", "subsidiary", "approvalStatus"}),
        )
        ids = [
            invoice.id
            for invoice in self.state.invoices.values()
            if meets(
                conditions,
                {
                    "externalId": invoice.external_id,
                    "tranId": invoice.tran_id,
                    "tranDate": invoice.tran_date,
                    "subsidiary": invoice.customer.subsidiary_id,
                    "approvalStatus": invoice.approval_status,
                },
            )
        ]
        return self._collection(request, "invoice", ids)

    async def create_invoice(self, request: Request) -> Response:
        values = await read_body(request, _INVOICE_FIELDS)
        external = text_value(values, "externalId", "")
        if external and self.state.invoice_count(external):
            raise NsFault(400, "USER_ERROR", "A record with the same external ID already exists.")
        customer = self.state.customers.get(ref_id(values, "entity"))
        if customer is None:
            raise invalid_ref("entity", ref_id(values, "entity"))
        subsidiary = (
            ref_id(values, "subsidiary") if "subsidiary" in values else customer.subsidiary_id
        )
        if subsidiary != customer.subsidiary_id:
            raise NsFault(400, "USER_ERROR", "The customer does not belong to the subsidiary.")
        currency = ref_id(values, "currency") if "currency" in values else customer.currency_id
        if currency != customer.currency_id:
            raise invalid_ref("currency", currency)
        today = self.state.today or date.today()
        tran_date = date_value(values, "tranDate", today)
        approval = ref_id(values, "approvalStatus") if "approvalStatus" in values else APPROVED
        if approval not in APPROVAL_NAMES:
            raise invalid_ref("approvalStatus", approval)
        invoice = InvoiceRecord(
            id=self.state.new_id(),
            external_id=external,
            tran_id=f"INV{self.state.next_tran_number}",
            customer=customer,
            currency_id=currency,
            tran_date=tran_date,
            due_date=date_value(values, "dueDate", tran_date),
            approval_status=PENDING_APPROVAL,
            lines=self._lines(values.get("item"), subsidiary, CURRENCIES[currency][0]),
        )
        if approval == APPROVED:
            self._approve(invoice)
        self.state.next_tran_number += 1
        self.state.invoices[invoice.id] = invoice
        return created(request, "invoice", invoice.id)

    def _lines(self, sublist: Any, subsidiary: str, currency: str) -> list[InvoiceLine]:
        if (
            not isinstance(sublist, dict)
            or set(sublist) != {"items"}
            or not isinstance(sublist["items"], list)
        ):
            raise NsFault(400, "USER_ERROR", 'An invoice needs an item sublist {"items": [...]}.')
        if not sublist["items"]:
            raise NsFault(
                400, "USER_ERROR", "You must enter at least one line item for this transaction."
            )
        lines = []
        for number, raw in enumerate(sublist["items"], start=1):
            if not isinstance(raw, dict) or set(raw) - _LINE_FIELDS:
                raise NsFault(400, "INVALID_CONTENT", f"Invalid field name in item line {number}.")
            if ref_id(raw, "item") != SERVICE_ITEM_ID:
                raise invalid_ref("item", ref_id(raw, "item"))
            lines.append(self._priced_line(raw, number, subsidiary, currency))
        return lines

    def _priced_line(
        self, raw: dict[str, Any], number: int, subsidiary: str, currency: str
    ) -> InvoiceLine:
        """A transaction line priced at its rate and taxed by its tax code's rate."""
        tax_item = self.state.tax_items.get(ref_id(raw, "taxCode"))
        if tax_item is None or tax_item.subsidiary_id != subsidiary:
            raise invalid_ref("taxCode", ref_id(raw, "taxCode"))
        account = None
        if "account" in raw:
            account = self.state.accounts.get(ref_id(raw, "account"))
            if account is None:
                raise invalid_ref("account", ref_id(raw, "account"))
        quantity, rate = number_value(raw, "quantity"), number_value(raw, "rate")
        amount = round_amount(quantity * rate, currency)
        return InvoiceLine(
            account=account,
            line=number,
            description=text_value(raw, "description", ""),
            quantity=quantity,
            rate=rate,
            amount=amount,
            tax_item=tax_item,
            tax_amount=round_amount(amount * tax_item.rate / 100, currency),
        )

    def _approve(self, invoice: InvoiceRecord) -> None:
        self._open_for_posting(invoice.tran_date)
        invoice.approval_status = APPROVED

    async def get_invoice(self, request: Request) -> Response:
        invoice = self._invoice(request)
        expand = request.query_params.get("expandSubResources") == "true"
        currency, currency_name = CURRENCIES[invoice.currency_id]
        path = f"/invoice/{invoice.id}"
        approved = invoice.approval_status == APPROVED
        sublist: dict[str, Any] = {"links": links_of(request, f"{path}/item")}
        if expand:
            sublist |= {
                "items": [line_wire(request, line) for line in invoice.lines],
                "count": len(invoice.lines),
                "hasMore": False,
                "offset": 0,
                "totalResults": len(invoice.lines),
            }
        return NsResponse(
            {
                "links": links_of(request, path),
                "id": invoice.id,
                "externalId": invoice.external_id,
                "tranId": invoice.tran_id,
                "tranDate": invoice.tran_date.isoformat(),
                "dueDate": invoice.due_date.isoformat(),
                "entity": ref_of(
                    request, "customer", invoice.customer.id, invoice.customer.company_name
                ),
                "subsidiary": ref_of(
                    request,
                    "subsidiary",
                    invoice.customer.subsidiary_id,
                    self.state.subsidiaries[invoice.customer.subsidiary_id].name,
                ),
                "currency": ref_of(request, "currency", invoice.currency_id, currency_name),
                "approvalStatus": {
                    "id": invoice.approval_status,
                    "refName": APPROVAL_NAMES[invoice.approval_status],
                },
                "status": _status(approved, invoice.amount_due),
                "subtotal": invoice.subtotal,
                "taxTotal": invoice.tax_total,
                "total": invoice.total,
                "amountRemaining": round_amount(invoice.amount_due, currency),
                "lastModifiedDate": invoice.modified,
                "item": sublist,
            }
        )

    async def delete_invoice(self, request: Request) -> Response:
        """An invoice pending approval is deleted; an approved one is in the ledger."""
        invoice = self._invoice(request)
        if invoice.approval_status == APPROVED:
            raise NsFault(
                400,
                "USER_ERROR",
                f"Invoice {invoice.tran_id} is approved and posted to the general ledger; "
                "it cannot be deleted.",
            )
        del self.state.invoices[invoice.id]
        return Response(status_code=204)

    async def update_invoice(self, request: Request) -> Response:
        invoice = self._invoice(request)
        values = await read_body(request, frozenset({"tranDate", "dueDate", "approvalStatus"}))
        approved = invoice.approval_status == APPROVED
        if approved and ({"tranDate", "dueDate"} & set(values)):
            raise NsFault(
                400, "USER_ERROR", "The dates of an approved invoice cannot be changed here."
            )
        invoice.tran_date = date_value(values, "tranDate", invoice.tran_date)
        invoice.due_date = date_value(values, "dueDate", invoice.due_date)
        if "approvalStatus" in values:
            wanted = ref_id(values, "approvalStatus")
            if wanted not in APPROVAL_NAMES:
                raise invalid_ref("approvalStatus", wanted)
            if approved and wanted != APPROVED:
                raise NsFault(400, "USER_ERROR", "An approved invoice cannot go back to approval.")
            if not approved and wanted == APPROVED:
                self._approve(invoice)
        invoice.modified = utc_now()
        return created(request, "invoice", invoice.id)


def line_wire(request: Request, line: InvoiceLine) -> dict[str, Any]:
    """An item line of an invoice or a credit memo, with its account when it names one."""
    account = line.account
    return {
        "links": [],
        "line": line.line,
        "item": ref_of(request, "serviceSaleItem", SERVICE_ITEM_ID, "Subscription services"),
        "description": line.description,
        "quantity": line.quantity,
        "rate": line.rate,
        "amount": line.amount,
        "taxCode": ref_of(request, "salesTaxItem", line.tax_item.id, line.tax_item.item_id),
        "taxRate1": line.tax_item.rate,
        **(
            {}
            if account is None
            else {"account": ref_of(request, "account", account.id, account.acct_number)}
        ),
    }


def _status(approved: bool, amount_due: Decimal) -> dict[str, str]:
    """`pendingApproval`, `open`, or `paidInFull` once nothing is due (and open again when
    a payment is unapplied from it)."""
    if not approved:
        return {"id": "pendingApproval", "refName": "Pending Approval"}
    if amount_due == 0:
        return {"id": "paidInFull", "refName": "Paid In Full"}
    return {"id": "open", "refName": "Open"}


_INVOICE_FIELDS = frozenset(
    {
        "externalId",
        "entity",
        "subsidiary",
        "currency",
        "tranDate",
        "dueDate",
        "approvalStatus",
        "item",
    }
)


_LINE_FIELDS = frozenset({"item", "description", "quantity", "rate", "taxCode", "account"})
