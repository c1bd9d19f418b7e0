"""Problems several workflows raise, each with its own stable type."""

from __future__ import annotations

from core.errors import BusinessRuleViolation


class UnknownReference(BusinessRuleViolation):
    slug = "unknown-reference"
    title = "The request refers to an object that does not exist"


class CustomerNotActive(BusinessRuleViolation):
    slug = "customer-not-active"
    title = "The customer is blocked or archived"


class InvoiceNotPosted(BusinessRuleViolation):
    slug = "invoice-not-posted"
    title = "The invoice is not posted to the ERP"
