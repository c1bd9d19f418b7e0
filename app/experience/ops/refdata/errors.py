"""Problems of reference-data changes, each with its own stable type."""

from __future__ import annotations

from core.errors import BusinessRuleViolation, Conflict


class DuplicateReference(Conflict):
    slug = "duplicate-reference-data"
    title = "Reference data with this key already exists"


class OverlappingPeriod(Conflict):
    slug = "overlapping-accounting-period"
    title = "The accounting period overlaps one the legal entity has"


class UnknownErpConnection(BusinessRuleViolation):
    slug = "unknown-erp-connection"
    title = "No ERP connection of that name is configured"
