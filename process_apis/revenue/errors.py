"""Business problems of revenue recognition, each with its own stable type."""

from __future__ import annotations

from core.errors import BusinessRuleViolation, Conflict


class RevenueSyncInProgress(Conflict):
    slug = "revenue-sync-in-progress"
    title = "Another request is drawing up the same revenue schedules"


class RevenueRunInProgress(Conflict):
    slug = "revenue-run-in-progress"
    title = "Another run is recognizing this period"


class RevenuePeriodOpen(BusinessRuleViolation):
    slug = "revenue-period-open"
    title = "The month has not ended: its revenue cannot be recognized yet"


class RecognitionRunNotPosted(Conflict):
    slug = "recognition-run-not-posted"
    title = "Only a posted recognition run can be reversed"


class RecognitionInErpJournal(Conflict):
    slug = "recognition-in-erp-journal"
    title = "The recognition entry is in the ERP journal and cannot be given up"


class RevenueCurrencyNotFunctional(BusinessRuleViolation):
    slug = "revenue-currency-not-functional"
    title = "The revenue is not in the legal entity's own currency"
