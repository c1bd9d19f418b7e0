"""Business problems of invoices and their posting, each with its own stable type."""

from __future__ import annotations

from core.errors import BusinessRuleViolation


class UnknownTaxCode(BusinessRuleViolation):
    slug = "unknown-tax-code"
    title = "The ERP does not know a tax code of the invoice"


class CurrencyMismatch(BusinessRuleViolation):
    slug = "currency-mismatch"
    title = "The invoice currency differs from the customer's"
