"""Re-applying a customer payment: `PATCH /customerPayment/{id}` with its `apply` sublist.

How NetSuite records a returned (NSF) payment: the payment is unapplied from the invoice
(`apply: false`), which owes that amount again, and applied instead to a journal entry
that debits Accounts Receivable for the same customer and credits the bank. Lines are
matched by `doc`; a document left out keeps its application. An amount over what the
document has open, or over the payment, is `USER_ERROR`; a document that is neither the
payment's invoice nor an approved journal entry with an A/R debit for its customer is
`INVALID_FLD_VALUE`. Nothing changes unless the whole sublist is valid.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandboxes.business_central.odata import round_amount
from sandboxes.netsuite.payments import PaymentsApi, receivable_debit
from sandboxes.netsuite.records import PaymentRecord
from sandboxes.netsuite.wire import (
    CURRENCIES,
    NsFault,
    created,
    number_value,
    read_body,
    ref_id,
    utc_now,
)

_APPLY_FIELDS = frozenset({"doc", "apply", "amount"})


class PaymentApplicationsApi(PaymentsApi):
    """`PATCH /customerPayment/{id}`: the `apply` sublist only."""

    async def update_payment(self, request: Request) -> Response:
        payment = self.state.payments.get(request.path_params["record_id"])
        if payment is None:
            raise NsFault(404, "NONEXISTENT_ID", "The record instance does not exist.")
        sublist = (await read_body(request, frozenset({"apply"}))).get("apply")
        if not isinstance(sublist, dict) or set(sublist) != {"items"}:
            raise NsFault(400, "INVALID_CONTENT", 'Field apply must be {"items": [...]}.')
        if not isinstance(sublist["items"], list):
            raise NsFault(400, "INVALID_CONTENT", "Field apply.items must be a list.")
        applied = dict(payment.applied)
        for line in sublist["items"]:
            self._apply_line(payment, applied, line)
        if sum(applied.values(), Decimal(0)) > payment.payment:
            raise NsFault(
                400, "USER_ERROR", "The total amount applied exceeds the amount of the payment."
            )
        invoice = payment.invoice
        invoice.paid += applied.get(invoice.id, Decimal(0)) - payment.applied.get(
            invoice.id, Decimal(0)
        )
        invoice.modified = utc_now()
        payment.applied = applied
        return created(request, "customerPayment", payment.id)

    def _apply_line(self, payment: PaymentRecord, applied: dict[str, Decimal], line: Any) -> None:
        if not isinstance(line, dict) or set(line) - _APPLY_FIELDS or "apply" not in line:
            raise NsFault(400, "INVALID_CONTENT", "An apply line has doc, apply and amount.")
        document_id = ref_id(line, "doc")
        if not isinstance(line["apply"], bool):
            raise NsFault(400, "INVALID_CONTENT", "Field apply.apply must be a boolean.")
        open_amount = self._open_amount(payment, document_id)
        if not line["apply"]:
            applied.pop(document_id, None)
            return
        currency = CURRENCIES[payment.invoice.currency_id][0]
        amount = number_value(line, "amount") if "amount" in line else open_amount
        if amount <= 0 or round_amount(amount, currency) != amount:
            raise _invalid(f"{amount}", "apply.amount")
        if amount > open_amount:
            raise NsFault(
                400,
                "USER_ERROR",
                f"The amount applied ({amount}) exceeds the amount due ({open_amount}).",
            )
        applied[document_id] = amount

    def _open_amount(self, payment: PaymentRecord, document_id: str) -> Decimal:
        """What the document has open for this payment (its own application included)."""
        own = payment.applied.get(document_id, Decimal(0))
        if document_id == payment.invoice.id:
            return payment.invoice.amount_due + own
        entry = self.state.journal_entries.get(document_id)
        debit = Decimal(0) if entry is None else receivable_debit(entry, payment.invoice.customer)
        if debit <= 0:
            raise _invalid(document_id, "apply.doc")
        return debit - self.state.applied_to(document_id) + own


def _invalid(value: str, field: str) -> NsFault:
    return NsFault(
        400,
        "INVALID_FLD_VALUE",
        f"You have entered an Invalid Field Value {value} for the following field: {field}",
    )
