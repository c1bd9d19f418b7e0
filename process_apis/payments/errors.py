"""Business problems of payments, each with its own stable type."""

from __future__ import annotations

from core.errors import BusinessRuleViolation, Conflict


class PaymentCurrencyMismatch(BusinessRuleViolation):
    slug = "payment-currency-mismatch"
    title = "The payment is in another currency than the invoice"


class InvoiceAlreadyPaid(BusinessRuleViolation):
    slug = "invoice-already-paid"
    title = "The invoice is paid in full"


class PaymentExceedsRemaining(BusinessRuleViolation):
    slug = "payment-exceeds-remaining"
    title = "The payment is more than the invoice still owes"
    caller_correctable = True


class PaymentBalanceUnmatched(BusinessRuleViolation):
    slug = "payment-balance-unmatched"
    title = "Billing paid the invoice with customer credit the ERP does not hold open"


class PaymentInLedger(Conflict):
    slug = "payment-in-ledger"
    title = "The payment is applied in the ERP and cannot be given up"


class PaymentNotApplied(Conflict):
    slug = "payment-not-applied"
    title = "Only a payment applied in the ERP is reversed"
