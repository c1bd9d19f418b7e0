"""Business problems of credit memos, each with its own stable type."""

from __future__ import annotations

from core.errors import BusinessRuleViolation


class CreditCurrencyMismatch(BusinessRuleViolation):
    slug = "credit-currency-mismatch"
    title = "The credit is in another currency than the invoice"


class CreditExceedsRemaining(BusinessRuleViolation):
    slug = "credit-exceeds-remaining"
    title = "The credit is more than the invoice still owes"


class CaseMismatch(BusinessRuleViolation):
    slug = "support-case-mismatch"
    title = "The support case belongs to another customer"


class EntitlementNotFound(BusinessRuleViolation):
    slug = "entitlement-not-found"
    title = "The customer has no active entitlement for the product"
