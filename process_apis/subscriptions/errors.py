"""Business problems of subscriptions, each with its own stable type."""

from __future__ import annotations

from core.errors import BusinessRuleViolation, Conflict


class PartnerNotEligible(BusinessRuleViolation):
    """The CRM refused to credit the partner; `reason` is the CRM's code."""

    slug = "partner-not-eligible"
    title = "The partner is not eligible for this customer and product"
    caller_correctable = True


class SubscriptionNotActive(Conflict):
    slug = "subscription-not-active"
    title = "The subscription is not active"


class ChangePending(Conflict):
    slug = "subscription-change-pending"
    title = "Another change of the subscription is unfinished"


class NothingToAmend(BusinessRuleViolation):
    slug = "amendment-changes-nothing"
    title = "The amendment names the subscription's current price and quantity"


class IntervalChange(BusinessRuleViolation):
    slug = "billing-interval-change"
    title = "An amendment cannot change the billing interval"


class CompensationRefused(Conflict):
    slug = "compensation-not-possible"
    title = "The run changed billing already; it cannot be discarded"
