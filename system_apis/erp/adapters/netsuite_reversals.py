"""NetSuite's `reverse_customer_payment`: a returned (NSF) payment, as an accountant
records one, nothing deleted.

A `journalEntry` keyed by the reversal's external document number (`externalId` and
`tranId`) debits the payment's Accounts Receivable account (`aracct`) for its customer
(the line's `entity`) and credits the bank it was deposited to; it is created approved,
so it posts at once. The payment is then re-applied (`PATCH` of its `apply` sublist)
from the invoice to that entry, so the invoice owes the amount again. Both steps look
first: a repeat finds the entry and the payment applied to it, and adds nothing.
"""

from __future__ import annotations

from urllib.parse import quote

from core.money import to_decimal
from system_apis.erp.adapters.netsuite_ledger import NetSuiteLedger
from system_apis.erp.adapters.netsuite_wire import (
    NsCustomerPayment,
    NsJournalEntry,
    NsRef,
)
from system_apis.erp.netsuite_mapping import ns_any_of, ns_is
from system_apis.erp.netsuite_reversal_mapping import (
    invoice_application,
    is_reapplied,
    reapplication_to_ns,
    receivable_customer,
    reversal_from_ns,
    reversing_entry_to_ns,
)
from system_apis.erp.schemas import ErpCustomerPayment, ErpCustomerPaymentReversal


class NetSuiteReversals(NetSuiteLedger):
    """Reversing an applied customer payment, and reading its reversing entry back."""

    async def reverse_customer_payment(
        self,
        company_id: str,
        journal_id: str,  # noqa: ARG002 (the payment names the bank it was deposited to)
        reversal: ErpCustomerPaymentReversal,
    ) -> ErpCustomerPayment:
        """Post the reversing journal entry and re-apply the payment to it, each once."""
        operation = "reverse_customer_payment"
        payment = await self._reversed_payment(company_id, reversal, operation)
        invoice = self._mapped(
            operation, invoice_application, payment, reversal.applies_to_invoice_id
        )
        entry = await self._find_journal_entry(
            company_id, reversal.external_document_number, operation
        )
        if entry is None:
            taken = to_decimal(reversal.amount, reversal.currency)
            if not invoice.apply or invoice.amount < taken:
                raise self._refusal(
                    f"customer payment {payment.tran_id} applies "
                    f"{invoice.amount if invoice.apply else 0} to invoice {invoice.ref_num}, "
                    f"less than the {taken} to reverse",
                    operation,
                )
            entry = await self._post_reversing_entry(company_id, payment, reversal, operation)
        if not is_reapplied(payment, entry.id):
            body = self._mapped(operation, reapplication_to_ns, reversal, invoice, entry.id)
            await self._send(
                "PATCH",
                f"/customerPayment/{quote(payment.id, safe='')}",
                operation=operation,
                body=body,
            )
        return await self._canonical_reversal(
            entry, NsRef(id=invoice.doc.id, refName=invoice.ref_num), operation
        )

    async def _reversed_payment(
        self, company_id: str, reversal: ErpCustomerPaymentReversal, operation: str
    ) -> NsCustomerPayment:
        """The payment reversed, by its document number (`tranId`) in the subsidiary."""
        number = reversal.reverses_document_number
        found = await self._unique_id(
            "customerPayment",
            operation,
            ns_is("tranId", number),
            ns_any_of("subsidiary", company_id),
        )
        if found is None:
            raise self._refusal(
                f"holds no customer payment {number!r} in subsidiary {company_id}", operation
            )
        return await self._get_payment(company_id, found, operation)

    async def _post_reversing_entry(
        self,
        company_id: str,
        payment: NsCustomerPayment,
        reversal: ErpCustomerPaymentReversal,
        operation: str,
    ) -> NsJournalEntry:
        body = self._mapped(operation, reversing_entry_to_ns, reversal, payment, company_id)
        response = await self._send("POST", "/journalEntry", operation=operation, body=body)
        created_id = self._created_id(response, "journalEntry", operation)
        return await self._get_journal_entry(company_id, created_id, operation)

    async def _canonical_reversal(
        self, entry: NsJournalEntry, invoice: NsRef | None, operation: str
    ) -> ErpCustomerPayment:
        customer = self._mapped(operation, receivable_customer, entry)
        customer_number = (
            None if customer is None else await self._customer_number(customer, operation)
        )
        currency = await self._currency_code(entry.currency.id, operation)
        return self._mapped(operation, reversal_from_ns, entry, customer_number, currency, invoice)
