"""Business problems of settlements, each with its own stable type."""

from __future__ import annotations

from core.errors import BusinessRuleViolation, Conflict


class SettlementCurrencyNotFunctional(BusinessRuleViolation):
    slug = "settlement-currency-not-functional"
    title = "The settlement is not in the legal entity's own currency"


class SettlementRunInProgress(Conflict):
    slug = "settlement-run-in-progress"
    title = "Another run is drawing up this period's statements"


class SettlementVoid(Conflict):
    slug = "settlement-void"
    title = "The settlement was voided"


class SettlementInErpJournal(Conflict):
    slug = "settlement-in-erp-journal"
    title = "The settlement's entry is in the ERP journal and cannot be given up"


class SettlementPeriodOpen(BusinessRuleViolation):
    slug = "settlement-period-open"
    title = "The month has not ended: it cannot be settled yet"


class SettlementAccountingPeriodOpen(BusinessRuleViolation):
    slug = "settlement-accounting-period-open"
    title = "The legal entity settles a month only once its accounting period is closed"


class SettlementNotPosted(Conflict):
    slug = "settlement-not-posted"
    title = "Only a posted settlement can be reversed"
