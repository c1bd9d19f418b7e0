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
