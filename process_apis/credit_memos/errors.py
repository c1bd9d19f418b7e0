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


class SettlementRequired(BusinessRuleViolation):
    """A paid invoice owes nothing: its credit is paid back or left to the customer."""

    slug = "credit-settlement-required"
    title = "A credit on a paid invoice says how it is settled"
    caller_correctable = True


class SettlementOnUnpaidInvoice(BusinessRuleViolation):
    slug = "credit-settlement-on-unpaid-invoice"
    title = "Only a credit on a paid invoice is settled by a refund or the customer's balance"
    caller_correctable = True


class RefundWithoutBilling(BusinessRuleViolation):
    """Billing pays a refund back on the invoice's charge: an invoice it never billed has none."""

    slug = "credit-refund-without-billing"
    title = "A credit is refunded only on an invoice billed by the billing engine"
    caller_correctable = True


class CreditPaidBack(Conflict):
    slug = "credit-paid-back"
    title = "The credit's customer refund is booked in the ERP and cannot be given up"


class CreditRefundMismatch(BusinessRuleViolation):
    slug = "credit-refund-mismatch"
    title = "The ERP credited another amount than the credit paid back"
