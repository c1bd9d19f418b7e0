"""Problems of one usage event, each with its own stable type (answered per event)."""

from __future__ import annotations

from core.errors import BusinessRuleViolation, Conflict


class InvalidUsageEvent(BusinessRuleViolation):
    slug = "validation-error"
    title = "Request validation failed"


class UsageEventConflict(Conflict):
    slug = "usage-event-conflict"
    title = "Another usage event was already accepted under this id"


class NoMeteredSubscription(BusinessRuleViolation):
    slug = "usage-no-metered-subscription"
    title = "No active subscription of the customer has a metered price for this meter"


class AmbiguousSubscription(BusinessRuleViolation):
    slug = "usage-ambiguous-subscription"
    title = "Several subscriptions of the customer meter this; name the subscription"


class OutsideTerm(BusinessRuleViolation):
    slug = "usage-outside-term"
    title = "The event's timestamp is outside the subscription's term"


class QuantityOutOfRange(BusinessRuleViolation):
    slug = "usage-quantity-out-of-range"
    title = "The quantity breaks the meter's rules"


class MissingUniqueProperty(BusinessRuleViolation):
    slug = "usage-unique-property-missing"
    title = "The meter counts distinct values of a property the event does not carry"


class CapExceeded(BusinessRuleViolation):
    slug = "usage-cap-exceeded"
    title = "The usage is over the meter's cap for the period"
