"""Customer payments: transformed from the invoice they pay, posted on save; list, read.

A payment's `apply` sublist lists the invoice it was transformed from and each journal
entry it was re-applied to (`applications`), with `apply` and the amount applied.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandboxes.business_central.odata import round_amount
from sandboxes.netsuite.invoices import InvoicesApi
from sandboxes.netsuite.records import (
    RECEIVABLE,
    AccountRecord,
    CustomerRecord,
    JournalEntryRecord,
    PaymentRecord,
)
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

_PAYMENT_FIELDS = frozenset({"externalId", "tranDate", "payment", "account", "memo"})


class PaymentsApi(InvoicesApi):
    """`POST /invoice/{id}/!transform/customerPayment`, and the payments it creates."""

    async def transform_to_payment(self, request: Request) -> Response:
        invoice = self._invoice(request)
        values = await read_body(request, _PAYMENT_FIELDS)
        external = text_value(values, "externalId", "")
        if external and self.state.payment_count(external):
            raise NsFault(400, "USER_ERROR", "A record with the same external ID already exists.")
        if invoice.approval_status != APPROVED:
            raise NsFault(400, "USER_ERROR", "Only an approved invoice can be paid.")
        currency = CURRENCIES[invoice.currency_id][0]
        amount = number_value(values, "payment") if "payment" in values else invoice.amount_due
        if amount <= 0 or round_amount(amount, currency) != amount:
            raise NsFault(400, "USER_ERROR", f"Invalid payment amount {amount}.")
        if amount > invoice.amount_due:
            raise NsFault(
                400,
                "USER_ERROR",
                f"The amount applied ({amount}) exceeds the amount due ({invoice.amount_due}).",
            )
        tran_date = self._open_for_posting(
            date_value(values, "tranDate", self.state.today or date.today())
        )
        payment = PaymentRecord(
            id=self.state.new_id(),
            external_id=external,
            tran_id=f"PYMT{self.state.next_tran_number}",
            invoice=invoice,
            account=self._bank_account(values),
            receivable=self.state.receivable_account(),
            tran_date=tran_date,
            payment=amount,
            memo=text_value(values, "memo", ""),
            applied={invoice.id: amount},
        )
        invoice.paid += amount
        invoice.modified = utc_now()
        self.state.next_tran_number += 1
        self.state.payments[payment.id] = payment
        return created(request, "customerPayment", payment.id)

    def _bank_account(self, values: dict[str, Any]) -> AccountRecord:
        if "account" not in values:
            raise NsFault(400, "USER_ERROR", "Please enter value(s) for: Account.")
        account = self.state.accounts.get(ref_id(values, "account"))
        if account is None or account.acct_type != "Bank":
            raise invalid_ref("account", ref_id(values, "account"))
        return account

    async def list_payments(self, request: Request) -> Response:
        conditions = query_conditions(
            request, frozenset({"externalId", "tranId", "tranDate", "subsidiary"})
        )
        ids = [
            payment.id
            for payment in self.state.payments.values()
            if meets(
                conditions,
                {
                    "externalId": payment.external_id,
                    "tranId": payment.tran_id,
                    "tranDate": payment.tran_date,
                    "subsidiary": payment.invoice.customer.subsidiary_id,
                },
            )
        ]
        return self._collection(request, "customerPayment", ids)

    async def get_payment(self, request: Request) -> Response:
        payment = self.state.payments.get(request.path_params["record_id"])
        if payment is None:
            raise NsFault(404, "NONEXISTENT_ID", "The record instance does not exist.")
        invoice, customer = payment.invoice, payment.invoice.customer
        path = f"/customerPayment/{payment.id}"
        sublist: dict[str, Any] = {"links": links_of(request, f"{path}/apply")}
        if request.query_params.get("expandSubResources") == "true":
            applied = self._applications(request, payment)
            sublist |= {"items": applied, "count": len(applied), "hasMore": False, "offset": 0}
            sublist["totalResults"] = len(applied)
        subsidiary = customer.subsidiary_id
        return NsResponse(
            {
                "links": links_of(request, path),
                "id": payment.id,
                "externalId": payment.external_id,
                "tranId": payment.tran_id,
                "tranDate": payment.tran_date.isoformat(),
                "customer": ref_of(request, "customer", customer.id, customer.company_name),
                "subsidiary": ref_of(
                    request, "subsidiary", subsidiary, self.state.subsidiaries[subsidiary].name
                ),
                "currency": ref_of(
                    request, "currency", invoice.currency_id, CURRENCIES[invoice.currency_id][1]
                ),
                "account": ref_of(
                    request,
                    "account",
                    payment.account.id,
                    f"{payment.account.acct_number} {payment.account.acct_name}",
                ),
                "aracct": ref_of(
                    request,
                    "account",
                    payment.receivable.id,
                    f"{payment.receivable.acct_number} {payment.receivable.acct_name}",
                ),
                "payment": payment.payment,
                "applied": sum(payment.applied.values(), Decimal(0)),
                "unapplied": payment.payment - sum(payment.applied.values(), Decimal(0)),
                "memo": payment.memo,
                "apply": sublist,
            }
        )

    def _applications(self, request: Request, payment: PaymentRecord) -> list[dict[str, Any]]:
        """The invoice it was transformed from, then each journal entry it applies to."""
        invoice = payment.invoice
        lines = [
            _application(
                ref_of(request, "invoice", invoice.id, invoice.tran_id),
                "Invoice",
                invoice.tran_id,
                payment.applied.get(invoice.id),
                total=invoice.total,
                due=invoice.amount_due,
            )
        ]
        for document_id, amount in payment.applied.items():
            entry = self.state.journal_entries.get(document_id)
            if entry is not None:
                debit = receivable_debit(entry, invoice.customer)
                lines.append(
                    _application(
                        ref_of(request, "journalEntry", entry.id, entry.tran_id),
                        "Journal",
                        entry.tran_id,
                        amount,
                        total=debit,
                        due=debit - self.state.applied_to(entry.id),
                    )
                )
        return lines


def _application(
    doc: dict[str, Any],
    kind: str,
    ref_num: str,
    amount: Decimal | None,
    *,
    total: Decimal,
    due: Decimal,
) -> dict[str, Any]:
    return {
        "links": [],
        "doc": doc,
        "type": kind,
        "refNum": ref_num,
        "apply": amount is not None,
        "amount": amount or Decimal(0),
        "total": total,
        "due": due,
    }


def receivable_debit(entry: JournalEntryRecord, customer: CustomerRecord) -> Decimal:
    """What the entry's approved A/R lines charge the customer (debits less credits)."""
    if not entry.approved:
        return Decimal(0)
    return sum(
        (
            line.debit - line.credit
            for line in entry.lines
            if line.account.acct_type == RECEIVABLE
            and line.entity is not None
            and line.entity.id == customer.id
        ),
        Decimal(0),
    )
