"""Credit memo records: posted when saved, applied to the invoice they are created from.

A memo created from no invoice is the customer's open credit (`unapplied`) until
`PATCH /creditMemo/{id}` applies it with its `apply` sublist: lines `{"doc": {"id":
invoice}, "apply": true, "amount": n}` (`apply: false` takes an application back), matched
by `doc`, each setting what the memo applies to that invoice. The invoice must be an
approved one of the memo's customer (`INVALID_FLD_VALUE`); more than the invoice owes, or
more than the memo has unapplied, is `USER_ERROR`; nothing changes unless every line is
valid.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from starlette.requests import Request
from starlette.responses import Response

from sandboxes.business_central.odata import round_amount
from sandboxes.netsuite.invoices import InvoicesApi, line_wire
from sandboxes.netsuite.records import CreditMemoRecord
from sandboxes.netsuite.wire import (
    APPROVED,
    CURRENCIES,
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

_APPLY_FIELDS = frozenset({"doc", "apply", "amount"})
_CREDIT_MEMO_FIELDS = frozenset(
    {"externalId", "entity", "currency", "tranDate", "createdFrom", "item"}
)


class CreditMemosApi(InvoicesApi):
    """Credit memos: list by external id, create (applied at once), read, and apply the
    open credit of a standalone one to invoices (`PATCH` of its `apply` sublist)."""

    async def list_credit_memos(self, request: Request) -> Response:
        conditions = query_conditions(request, frozenset({"externalId", "tranDate", "subsidiary"}))
        ids = [
            memo.id
            for memo in self.state.credit_memos.values()
            if meets(
                conditions,
                {
                    "externalId": memo.external_id,
                    "tranDate": memo.tran_date,
                    "subsidiary": memo.customer.subsidiary_id,
                },
            )
        ]
        return self._collection(request, "creditMemo", ids)

    async def create_credit_memo(self, request: Request) -> Response:
        values = await read_body(request, _CREDIT_MEMO_FIELDS)
        external = text_value(values, "externalId", "")
        if external and any(m.external_id == external for m in self.state.credit_memos.values()):
            raise NsFault(400, "USER_ERROR", "A record with the same external ID already exists.")
        customer = self.state.customers.get(ref_id(values, "entity"))
        if customer is None:
            raise invalid_ref("entity", ref_id(values, "entity"))
        currency = ref_id(values, "currency") if "currency" in values else customer.currency_id
        if currency != customer.currency_id:
            raise invalid_ref("currency", currency)
        tran_date = self._open_for_posting(
            date_value(values, "tranDate", self.state.today or date.today())
        )
        invoice = None
        if "createdFrom" in values:
            invoice = self.state.invoices.get(ref_id(values, "createdFrom"))
            if invoice is None or invoice.customer is not customer:
                raise invalid_ref("createdFrom", ref_id(values, "createdFrom"))
            if invoice.approval_status != APPROVED:
                raise NsFault(400, "USER_ERROR", "A credit memo applies to an approved invoice.")
        lines = self._lines(values.get("item"), customer.subsidiary_id, CURRENCIES[currency][0])
        memo = CreditMemoRecord(
            id=self.state.new_id(),
            external_id=external,
            tran_id=f"CM{self.state.next_tran_number}",
            customer=customer,
            currency_id=currency,
            tran_date=tran_date,
            created_from=invoice,
            lines=lines,
        )
        if invoice is not None:
            if memo.total > invoice.amount_due:
                raise NsFault(400, "USER_ERROR", "The credit exceeds the invoice's amount due.")
            invoice.credited += memo.total
            invoice.modified = utc_now()
        self.state.next_tran_number += 1
        self.state.credit_memos[memo.id] = memo
        return created(request, "creditMemo", memo.id)

    async def apply_credit_memo(self, request: Request) -> Response:
        memo = self._memo(request)
        sublist = (await read_body(request, frozenset({"apply"}))).get("apply")
        if not isinstance(sublist, dict) or set(sublist) != {"items"}:
            raise NsFault(400, "INVALID_CONTENT", 'Field apply must be {"items": [...]}.')
        if not isinstance(sublist["items"], list):
            raise NsFault(400, "INVALID_CONTENT", "Field apply.items must be a list.")
        applied = dict(memo.applied)
        for line in sublist["items"]:
            if not isinstance(line, dict) or set(line) - _APPLY_FIELDS or "apply" not in line:
                raise NsFault(400, "INVALID_CONTENT", "An apply line has doc, apply and amount.")
            invoice = self.state.invoices.get(ref_id(line, "doc"))
            if (
                invoice is None
                or invoice.customer is not memo.customer
                or invoice.approval_status != APPROVED
            ):
                raise NsFault(
                    400,
                    "INVALID_FLD_VALUE",
                    f"Invalid Field Value {ref_id(line, 'doc')} for the following field: apply.doc",
                )
            if line["apply"] is False:
                applied.pop(invoice.id, None)
                continue
            amount = number_value(line, "amount")
            currency = CURRENCIES[memo.currency_id][0]
            if amount <= 0 or round_amount(amount, currency) != amount:
                raise NsFault(
                    400,
                    "INVALID_FLD_VALUE",
                    f"Invalid Field Value {amount} for the following field: apply.amount",
                )
            if amount - memo.applied.get(invoice.id, Decimal(0)) > invoice.amount_due:
                raise NsFault(
                    400,
                    "USER_ERROR",
                    f"The amount applied ({amount}) exceeds the amount due ({invoice.amount_due}).",
                )
            applied[invoice.id] = amount
        used = memo.total if memo.created_from is not None else Decimal(0)
        if used + sum(applied.values(), Decimal(0)) > memo.total:
            raise NsFault(
                400, "USER_ERROR", "The total amount applied exceeds the amount of the credit."
            )
        for invoice_id in applied.keys() | memo.applied.keys():
            invoice = self.state.invoices[invoice_id]
            invoice.credited += applied.get(invoice_id, Decimal(0)) - memo.applied.get(
                invoice_id, Decimal(0)
            )
            invoice.modified = utc_now()
        memo.applied = applied
        return created(request, "creditMemo", memo.id)

    async def delete_credit_memo(self, request: Request) -> Response:
        """A credit memo is posted when saved: it is never a draft, and never deleted."""
        memo = self._memo(request)
        raise NsFault(
            400,
            "USER_ERROR",
            f"Credit memo {memo.tran_id} is posted to the general ledger; it cannot be deleted.",
        )

    def _memo(self, request: Request) -> CreditMemoRecord:
        memo = self.state.credit_memos.get(request.path_params["record_id"])
        if memo is None:
            raise NsFault(404, "NONEXISTENT_ID", "The record instance does not exist.")
        return memo

    async def get_credit_memo(self, request: Request) -> Response:
        memo = self._memo(request)
        subsidiary = memo.customer.subsidiary_id
        invoice = memo.created_from
        return NsResponse(
            {
                "links": links_of(request, f"/creditMemo/{memo.id}"),
                "id": memo.id,
                "externalId": memo.external_id,
                "tranId": memo.tran_id,
                "tranDate": memo.tran_date.isoformat(),
                "entity": ref_of(request, "customer", memo.customer.id, memo.customer.company_name),
                "subsidiary": ref_of(
                    request, "subsidiary", subsidiary, self.state.subsidiaries[subsidiary].name
                ),
                "currency": ref_of(
                    request, "currency", memo.currency_id, CURRENCIES[memo.currency_id][1]
                ),
                **(
                    {"createdFrom": ref_of(request, "invoice", invoice.id, invoice.tran_id)}
                    if invoice is not None
                    else {}
                ),
                "subtotal": memo.subtotal,
                "taxTotal": memo.tax_total,
                "total": memo.total,
                "applied": memo.total - memo.unapplied,
                "unapplied": memo.unapplied,
                "item": {
                    "links": links_of(request, f"/creditMemo/{memo.id}/item"),
                    "items": [line_wire(request, line) for line in memo.lines],
                    "count": len(memo.lines),
                    "hasMore": False,
                    "offset": 0,
                    "totalResults": len(memo.lines),
                },
            }
        )
