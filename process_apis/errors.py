"""Problems several workflows raise, each with its own stable type."""

from __future__ import annotations

from core.errors import BusinessRuleViolation


class UnknownReference(BusinessRuleViolation):
    slug = "unknown-reference"
    title = "The request refers to an object that does not exist"


class CustomerNotActive(BusinessRuleViolation):
    slug = "customer-not-active"
    title = "The customer is blocked or archived"


class PriceNotActive(BusinessRuleViolation):
    slug = "price-not-active"
    title = "The price or its product is no longer sold"


class PriceCurrencyMismatch(BusinessRuleViolation):
    slug = "price-currency-mismatch"
    title = "The price is not in the customer's currency"


class InvoiceNotPosted(BusinessRuleViolation):
    slug = "invoice-not-posted"
    title = "The invoice is not posted to the ERP"


class CreditExceedsRemaining(BusinessRuleViolation):
    slug = "credit-exceeds-remaining"
    title = "The credit is more than the invoice still owes"


class BillingCustomerMismatch(BusinessRuleViolation):
    """A billing invoice names one of ours (by subscription or metadata) but bills another
    customer: nothing is linked or registered, and an operator looks into it."""

    slug = "billing-customer-mismatch"
    title = "The billing invoice bills another customer than ours"
