"""Business problems of invoices and their posting, each with its own stable type."""

from __future__ import annotations

from core.errors import BusinessRuleViolation, Conflict


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
