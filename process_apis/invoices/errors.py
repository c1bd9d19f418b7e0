"""Business problems of invoices and their posting, each with its own stable type."""

from __future__ import annotations

from core.errors import BusinessRuleViolation, Conflict


class ClosedPeriod(BusinessRuleViolation):
    slug = "closed-period"
    title = "The posting date is in a closed accounting period"


class PeriodNotDefined(BusinessRuleViolation):
    slug = "accounting-period-undefined"
    title = "No accounting period covers the posting date"


class UnknownTaxCode(BusinessRuleViolation):
    slug = "unknown-tax-code"
    title = "The ERP does not know a tax code of the invoice"


class CurrencyMismatch(BusinessRuleViolation):
    slug = "currency-mismatch"
    title = "The invoice currency differs from the customer's"


class CustomerNotActive(BusinessRuleViolation):
    slug = "customer-not-active"
    title = "The customer is blocked or archived"


class PostingInProgress(Conflict):
    slug = "posting-in-progress"
    title = "The invoice is being posted by another request"
