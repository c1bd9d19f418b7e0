"""Problems of accounting periods, each with its own stable type."""

from __future__ import annotations

from core.errors import BusinessRuleViolation


class ClosedPeriod(BusinessRuleViolation):
    slug = "closed-period"
    title = "The posting date is in a closed accounting period"


class PeriodNotDefined(BusinessRuleViolation):
    slug = "accounting-period-undefined"
    title = "No accounting period covers the posting date"
