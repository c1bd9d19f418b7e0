"""Business problems of subscriptions, each with its own stable type."""

from __future__ import annotations

from core.errors import BusinessRuleViolation, Conflict, LedgergateError


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


class AdjustmentTotalsMismatch(LedgergateError):
    """The ERP drafted the amendment's adjustment with other totals than billing charged:
    never a success. The draft is left unposted and the run waits in the exception queue
    until the ERP's tax setup or the draft is corrected (then a replay posts it)."""

    status_code = 502
    slug = "amendment-erp-totals-mismatch"
    title = "The ERP's adjustment totals differ from what billing charged"
