"""Business problems of invoices and their posting, each with its own stable type."""

from __future__ import annotations

from core.errors import BusinessRuleViolation, Conflict, LedgergateError


class UnknownTaxCode(BusinessRuleViolation):
    slug = "unknown-tax-code"
    title = "The ERP does not know a tax code of the invoice"


class CurrencyMismatch(BusinessRuleViolation):
    slug = "currency-mismatch"
    title = "The invoice currency differs from the customer's"


class InvoiceNotVoidable(Conflict):
    slug = "invoice-not-voidable"
    title = "Only an invoice that was never posted can be voided"


class BillingRefusedVoid(BusinessRuleViolation):
    slug = "billing-refused-void"
    title = "Billing refused to void its invoice"


class ErpTotalsMismatch(LedgergateError):
    """The ERP posted the invoice with other totals than ours: its contract is to book ours.

    Carries both sides (`ours`, `erp`) and the ERP document; the run waits in the
    exception queue for an operator to accept the ERP's figures or reverse its document.
    """

    status_code = 502
    slug = "erp-totals-mismatch"
    title = "The ERP booked other totals than the invoice's"


class InvoiceNotMismatched(Conflict):
    slug = "invoice-not-mismatched"
    title = "The invoice has no posting whose totals disagree with the ERP's"


class ErpReversalInexact(LedgergateError):
    """The ERP would credit other amounts than the document it reverses (its tax setup
    changed since): the memo is left unposted; reverse before repairing, or accept."""

    status_code = 502
    slug = "erp-reversal-inexact"
    title = "The ERP credit memo would not cancel the mismatched document exactly"
