"""Business problems of credit memos, each with its own stable type."""

from __future__ import annotations

from core.errors import BusinessRuleViolation, Conflict


class CreditCurrencyMismatch(BusinessRuleViolation):
    slug = "credit-currency-mismatch"
    title = "The credit is in another currency than the invoice"


class CaseMismatch(BusinessRuleViolation):
    slug = "support-case-mismatch"
    title = "The support case belongs to another customer"


class EntitlementNotFound(BusinessRuleViolation):
    slug = "entitlement-not-found"
    title = "The customer has no active entitlement for the product"


class CreditSelfApproval(BusinessRuleViolation):
    """Four eyes: the client that requested a credit needing approval cannot approve it."""

    slug = "credit-self-approval"
    title = "A credit is approved by another client than its requester"


class UnknownSupportCase(BusinessRuleViolation):
    slug = "unknown-support-case"
    title = "The support desk has no such case"
    caller_correctable = True


class InvoiceNotCorrectable(Conflict):
    slug = "invoice-not-correctable"
    title = "Only a posted invoice is corrected by a credit memo"


class UnknownInvoiceLine(BusinessRuleViolation):
    slug = "unknown-invoice-line"
    title = "The invoice has no such line"


class CorrectionExceedsLine(BusinessRuleViolation):
    slug = "correction-exceeds-line"
    title = "The correction credits more of a line than remains of it"


class CreditExceedsInvoice(BusinessRuleViolation):
    slug = "credit-exceeds-invoice"
    title = "The invoice's credits would add up to more than its total"


class CreditMemoNotApprovable(Conflict):
    """A refund's credit memo: billing paid the money back already, nobody approves it."""

    slug = "credit-memo-not-approvable"
    title = "The credit memo is not one that is approved"
